/**
 * An L2 VXLAN fabric for end-to-end tests of `--mode l2` (issue #10): hosts
 * on one underlay, each with a Linux bridge `br0` and one or two
 * "containers" (namespaces with a veth into br0), every container on one
 * /24. Each host's VTEP is either the kernel's vxlan device in its classic L2
 * form (learning, a flood list of `00:00:00:00:00:00` entries, enslaved to
 * br0) or a vxtap daemon (`vxtap run --mode l2 --bridge br0`).
 *
 * The same fabric runs with the kernel on every host (VXT_L2_ALL_KERNEL=1):
 * the tests' expectations are then checked against the reference
 * implementation, which is how the harness itself was validated.
 *
 * Tables are read the same way for both kinds (`bridge -j fdb show dev vx0`
 * or `vxtap fdb --json`), so a test asserts one shape. A failing test prints
 * `describe()`: every host's FDB, its counters and the daemon's last log lines.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon, REPO, VXTAP } from './daemon';
import { type Lab, run, waitFor } from './netns';

export const VNI = 42;
export const PORT = 4789;
/** The VTEP's device name on every host: the kernel's vxlan device, or vxtap's TAP. */
export const DEV = 'vx0';
export const UNDERLAY_MTU = 1500;
export const OVERLAY_MTU = UNDERLAY_MTU - 50;
const PY_TOOLS = join(REPO, 'test', 'tools');

export type Kind = 'kernel' | 'vxtap';

/** One FDB row, whichever VTEP it came from (vxtap's `fdb --json` row; the kernel's mapped to it). */
export interface FdbEntry {
  mac: string;
  vtep: string;
  port: number;
  kind: 'learned' | 'static' | 'flood';
  ageSeconds: number | null;
}

/** `vxtap stats --json` → counters.l2 (the contract of issue #10). */
export interface L2Counters {
  learned: number;
  moved: number;
  aged: number;
  fdbRefused: number;
  floodedFrames: number;
  floodCopies: number;
  arpSuppressed: number;
}

export interface ContainerSpec { name: string; ip: string; mac: string }
export interface HostSpec { ip: string; kind: Kind; containers: ContainerSpec[] }

export interface VtepOpts {
  /** Learned entries age out after this many seconds of silence (vxtap --fdb-ageing, kernel `ageing`). */
  ageingSeconds?: number;
  /** At most this many FDB entries (vxtap --fdb-max, kernel `maxaddress`). */
  fdbMax?: number;
  /** vxtap only: --no-arp-suppress when false. The kernel device here never proxies ARP. */
  arpSuppress?: boolean;
  /** More vxtap flags (e.g. the control plane instead of --peers). */
  extra?: string[];
  /** Replaces `--peers FILE` (e.g. etcd flags). */
  control?: string[];
  /** MACs pinned behind a host in the static peers file (vxtap only). */
  pinned?: Record<string, string[]>;
}

/** Whether every host runs the kernel's vxlan device (the harness validated against the reference). */
export const allKernel = process.env.VXT_L2_ALL_KERNEL === '1';

export class L2Fabric {
  readonly daemons = new Map<string, Daemon>();
  private readonly kernelUp = new Set<string>();
  /** Where each container's host-side veth is now (a test may move one). */
  readonly hostOf = new Map<string, string>();

  constructor(readonly lab: Lab, readonly dir: string, readonly hosts: Record<string, HostSpec>, readonly underlayCidrLen = 24) {
    for (const [h, spec] of Object.entries(hosts)) for (const c of spec.containers) this.hostOf.set(c.name, h);
  }

  /** An IPv6 underlay (issue #13): the hosts' addresses are IPv6, and the underlay has no IPv4 at all. */
  get ipv6(): boolean {
    return Object.values(this.hosts).some((h) => h.ip.includes(':'));
  }

  /** The containers' and VTEPs' MTU: the underlay's less 50 (70 over IPv6). */
  get overlayMtu(): number {
    return this.ipv6 ? UNDERLAY_MTU - 70 : OVERLAY_MTU;
  }

  /** The IPv6 underlay: a bridge in `u`, a veth per host whose eth0 has IPv6 on (nodad: usable at once) and no IPv4 address. */
  private buildUnderlay6(under: Record<string, string>): void {
    const { lab } = this;
    run('ip', ['-n', lab.ns('u'), 'link', 'add', 'br0', 'type', 'bridge']);
    run('ip', ['-n', lab.ns('u'), 'link', 'set', 'br0', 'up']);
    for (const [h, cidr] of Object.entries(under)) {
      const peer = `p-${h}`.slice(0, 15);
      run('ip', ['-n', lab.ns('u'), 'link', 'add', peer, 'mtu', String(UNDERLAY_MTU), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lab.ns(h)]);
      run('ip', ['-n', lab.ns('u'), 'link', 'set', peer, 'master', 'br0', 'up']);
      lab.exec(h, ['sysctl', '-q', '-w', 'net.ipv6.conf.eth0.disable_ipv6=0']);
      lab.exec(h, ['ip', 'link', 'set', 'eth0', 'mtu', String(UNDERLAY_MTU), 'up']);
      lab.exec(h, ['ip', 'addr', 'add', cidr, 'dev', 'eth0', 'nodad']);
    }
  }

  get containers(): ContainerSpec[] {
    return Object.values(this.hosts).flatMap((h) => h.containers);
  }

  container(name: string): ContainerSpec {
    const c = this.containers.find((x) => x.name === name);
    if (!c) throw new Error(`no container ${name}`);
    return c;
  }

  kind(host: string): Kind {
    return this.hosts[host]!.kind;
  }

  hostIp(host: string): string {
    return this.hosts[host]!.ip;
  }

  /** The namespaces, the underlay, a bridge per host and the containers. IPv6 is off everywhere, so that silence is silence (no RS, MLD or DAD frames to learn from). */
  build(extraUnderlay: Record<string, string> = {}): void {
    const { lab } = this;
    const under: Record<string, string> = { ...extraUnderlay };
    for (const [h, spec] of Object.entries(this.hosts)) under[h] = `${spec.ip}/${this.ipv6 ? 64 : this.underlayCidrLen}`;
    for (const h of ['u', ...Object.keys(under)]) { lab.addNs(h); noIpv6(lab, h); }
    if (this.ipv6) {
      this.buildUnderlay6(under);
    } else {
      lab.underlay('u', under, UNDERLAY_MTU);
      for (const h of Object.keys(under)) lab.exec(h, ['ip', 'route', 'add', 'default', 'dev', 'eth0']);
    }
    for (const [h, spec] of Object.entries(this.hosts)) {
      lab.exec(h, ['ip', 'link', 'add', 'br0', 'type', 'bridge']);
      lab.exec(h, ['ip', 'link', 'set', 'br0', 'up']);
      for (const c of spec.containers) {
        lab.addNs(c.name);
        noIpv6(lab, c.name);
        run('ip', ['-n', lab.ns(h), 'link', 'add', vethName(c.name), 'mtu', String(this.overlayMtu), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', lab.ns(c.name)]);
        run('ip', ['-n', lab.ns(h), 'link', 'set', vethName(c.name), 'master', 'br0', 'up']);
        lab.exec(c.name, ['ip', 'link', 'set', 'eth0', 'address', c.mac, 'mtu', String(this.overlayMtu), 'up']);
        lab.exec(c.name, ['ip', 'addr', 'add', `${c.ip}/24`, 'brd', '+', 'dev', 'eth0']);
      }
    }
  }

  /**
   * A static L2 peers file listing every host (each host skips its own
   * entry); `macs[host]`: MACs pinned behind that host (static FDB entries).
   */
  peersFile(macs: Record<string, string[]> = {}): string {
    const pinned = Object.keys(macs).length > 0;
    const path = join(this.dir, pinned ? 'l2-peers-pinned.json' : 'l2-peers.json');
    writeFileSync(path, JSON.stringify({
      vni: VNI,
      port: PORT,
      peers: Object.entries(this.hosts).map(([h, spec]) => ({ publicIp: spec.ip, ...(macs[h] ? { macs: macs[h] } : {}) })),
    }, null, 2));
    return path;
  }

  controlSocket(host: string): string {
    return join(this.dir, `${host}.sock`);
  }

  /** Brings up the host's VTEP: the kernel's vxlan device, or a vxtap daemon (waits until it is up). */
  async startVtep(host: string, opts: VtepOpts = {}): Promise<void> {
    const spec = this.hosts[host]!;
    if (spec.kind === 'kernel') {
      const args = ['ip', 'link', 'add', DEV, 'type', 'vxlan', 'id', String(VNI), 'dstport', String(PORT), 'local', spec.ip, 'dev', 'eth0', 'learning'];
      if (opts.ageingSeconds !== undefined) args.push('ageing', String(opts.ageingSeconds));
      if (opts.fdbMax !== undefined) args.push('maxaddress', String(opts.fdbMax));
      this.lab.exec(host, args);
      this.lab.exec(host, ['ip', 'link', 'set', DEV, 'mtu', String(this.overlayMtu), 'master', 'br0', 'up']);
      for (const [other, o] of Object.entries(this.hosts)) {
        if (other !== host) this.lab.exec(host, ['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', DEV, 'dst', o.ip]);
      }
      this.kernelUp.add(host);
      return;
    }
    const args = ['--mode', 'l2', ...(opts.control ?? ['--peers', this.peersFile(opts.pinned)]), '--public-ip', spec.ip, '--iface', 'eth0',
      '--tap', DEV, '--bridge', 'br0', '--control-socket', this.controlSocket(host)];
    if (opts.ageingSeconds !== undefined) args.push('--fdb-ageing', String(opts.ageingSeconds));
    if (opts.fdbMax !== undefined) args.push('--fdb-max', String(opts.fdbMax));
    if (opts.arpSuppress === false) args.push('--no-arp-suppress');
    args.push(...(opts.extra ?? []));
    const d = new Daemon(this.lab, host, args);
    this.daemons.set(host, d);
    await d.up();
    // The TAP is a bridge port once the daemon says it is up; check rather than trust.
    await waitFor(`${host}: ${DEV} enslaved to br0 and up`, () => /master br0/.test(this.lab.tryExec(host, ['ip', 'link', 'show', DEV]).stdout), 5000);
  }

  /**
   * Brings up every VTEP, after emptying every container's neighbour table:
   * each test starts as a fresh segment would, its first exchange an ARP
   * request and reply across it (what ARP suppression learns from), not a
   * unicast on an entry left by the test before.
   */
  async startAll(opts: VtepOpts = {}): Promise<void> {
    for (const c of this.containers) this.flushNeighbours(c.name);
    await Promise.all(Object.keys(this.hosts).map((h) => this.startVtep(h, opts)));
  }

  flushNeighbours(container: string): void {
    this.lab.exec(container, ['ip', 'neigh', 'flush', 'dev', 'eth0']);
  }

  /** Takes the host's VTEP down: deletes the kernel device, or stops the daemon (SIGTERM unless told) and returns its exit code. */
  async stopVtep(host: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    if (this.kernelUp.delete(host)) {
      this.lab.tryExec(host, ['ip', 'link', 'del', DEV]);
      return 0;
    }
    const d = this.daemons.get(host);
    if (!d) return 0;
    this.daemons.delete(host);
    return d.stop(10000, signal);
  }

  /** Stops every VTEP; returns the exit code of each vxtap daemon stopped. */
  async stopAll(): Promise<Record<string, number>> {
    const codes: Record<string, number> = {};
    await Promise.all(Object.keys(this.hosts).map(async (h) => {
      const wasDaemon = this.daemons.has(h);
      const code = await this.stopVtep(h);
      if (wasDaemon) codes[h] = code;
    }));
    return codes;
  }

  /** The host's VTEP FDB in one shape: vxtap's `fdb --json`, or the kernel's vxlan FDB (entries with a `dst`). */
  fdb(host: string): FdbEntry[] {
    if (this.kernelUp.has(host)) {
      const rows = JSON.parse(this.lab.exec(host, ['bridge', '-j', '-s', 'fdb', 'show', 'dev', DEV])) as { mac: string; dst?: string; state?: string; dst_port?: number; used?: number; updated?: number }[];
      return rows.filter((r) => r.dst !== undefined).map((r) => ({
        mac: r.mac,
        vtep: r.dst!,
        port: r.dst_port ?? PORT,
        kind: r.mac === '00:00:00:00:00:00' ? 'flood' : r.state === 'permanent' ? 'static' : 'learned',
        ageSeconds: r.updated ?? null,
      }));
    }
    if (!this.daemons.has(host)) return [];
    return this.vxtapJson<FdbEntry[]>(host, 'fdb');
  }

  /** Learned rows of `mac` (lower case) in the host's FDB. */
  learned(host: string, mac: string): FdbEntry[] {
    return this.fdb(host).filter((r) => r.kind === 'learned' && r.mac === mac.toLowerCase());
  }

  /** The l2 counters of a vxtap host (`vxtap stats --json`); null for a kernel host (it keeps none of these). */
  counters(host: string): L2Counters | null {
    if (!this.daemons.has(host)) return null;
    const st = this.vxtapJson<{ counters: { l2?: L2Counters }; l2?: L2Counters }>(host, 'stats');
    const l2 = st.counters.l2 ?? st.l2;
    if (!l2) throw new Error(`${host}: vxtap stats --json has no l2 counters: ${JSON.stringify(st.counters)}`);
    return l2;
  }

  /** The drop counters of a vxtap host, by reason name. */
  drops(host: string): Record<string, number> {
    return this.vxtapJson<{ counters: { drops: Record<string, number> } }>(host, 'stats').counters.drops;
  }

  vxtapJson<T>(host: string, cmd: string): T {
    const r = this.lab.tryExec(host, [process.execPath, VXTAP, cmd, '--json', '--control-socket', this.controlSocket(host)]);
    if (r.status !== 0) throw new Error(`${host}: vxtap ${cmd} --json exited ${r.status}: ${r.stderr}${r.stdout}`);
    return JSON.parse(r.stdout) as T;
  }

  /** Every host's VTEP: kind, FDB, counters, the daemon's last log lines. For failure messages. */
  describe(logLines = 15): string {
    const out: string[] = [];
    for (const [h, spec] of Object.entries(this.hosts)) {
      out.push(`== ${h} (${spec.kind}, ${spec.ip})`);
      try {
        const rows = this.fdb(h);
        out.push(rows.length === 0 ? '   fdb: (empty)' : rows.map((r) => `   fdb ${r.mac} -> ${r.vtep}:${r.port} ${r.kind} age=${r.ageSeconds ?? '-'}`).join('\n'));
      } catch (err) {
        out.push(`   fdb: ${(err as Error).message}`);
      }
      const d = this.daemons.get(h);
      if (d) {
        try { out.push(`   l2 counters: ${JSON.stringify(this.counters(h))}`); } catch (err) { out.push(`   counters: ${(err as Error).message}`); }
        try {
          // In L2 mode `vxtap arp` is the ARP suppression table.
          const arp = this.vxtapJson<Record<string, unknown>[]>(h, 'arp');
          out.push(`   arp suppression table: ${arp.length === 0 ? '(empty)' : arp.map((r) => JSON.stringify(r)).join(' ')}`);
        } catch (err) { out.push(`   arp: ${(err as Error).message}`); }
        out.push(`   exit: ${d.exitCode ?? 'running'}; last log lines:`);
        out.push(...d.dump().split('\n').slice(-logLines).map((l) => `     ${l.slice(0, 400)}`));
      }
    }
    return out.join('\n');
  }

  /**
   * Runs `fn`; an error that does not show the fabric yet (a TCP transfer
   * that failed, a command that threw) gets `describe()` appended, taken
   * while the VTEPs are still up.
   */
  async explained(fn: () => Promise<void> | void): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const e = err as Error;
      if (!e.message.includes('== h')) e.message = `${e.message}\n${this.describe()}`;
      throw e;
    }
  }

  /** Asserts, with the whole fabric printed when it fails. */
  check(cond: boolean, what: string): void {
    if (!cond) assert.fail(`${what}\n${this.describe()}`);
  }

  /** Waits for `pred`, and on timeout fails with what the fabric looks like. */
  async waitFor(what: string, pred: () => boolean, timeoutMs = 10000): Promise<void> {
    try {
      await waitFor(what, pred, timeoutMs, 200);
    } catch (err) {
      assert.fail(`${(err as Error).message}\n${this.describe()}`);
    }
  }

  /** `ping` from a container; returns the output, or fails with the fabric printed. */
  ping(from: string, to: string, count = 2): string {
    const ip = this.container(to).ip;
    const r = this.lab.tryExec(from, ['ping', '-c', String(count), '-i', '0.2', '-W', '2', ip]);
    if (!/ 0% packet loss/.test(r.stdout)) {
      assert.fail(`ping ${from} -> ${to} (${ip}) failed:\n${r.stdout}${r.stderr}\n${this.describe()}`);
    }
    return r.stdout;
  }

  /** Moves a container's host-side veth (and so the container) behind another host's bridge. */
  moveContainer(name: string, to: string): void {
    const from = this.hostOf.get(name)!;
    run('ip', ['-n', this.lab.ns(from), 'link', 'set', vethName(name), 'netns', this.lab.ns(to)]);
    run('ip', ['-n', this.lab.ns(to), 'link', 'set', vethName(name), 'mtu', String(this.overlayMtu), 'master', 'br0', 'up']);
    this.hostOf.set(name, to);
  }
}

export function vethName(container: string): string {
  return `v-${container}`.slice(0, 15);
}

function noIpv6(lab: Lab, ns: string): void {
  lab.exec(ns, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
}

/** One VXLAN datagram seen on the underlay, with what it carries. */
export interface Datagram {
  src: string;
  dst: string;
  vni: number;
  innerSrcMac: string;
  innerDstMac: string;
  /** The inner frame's UDP destination port, or null. */
  innerUdpDport: number | null;
  /** ARP opcode (1 request, 2 reply) and target IP when the inner frame is ARP. */
  arpOp: number | null;
  arpTarget: string | null;
}

/**
 * tcpdump on a host's underlay (`-Q out`: what this host sends, each
 * datagram once), VXLAN only, written to a pcap and read back with tshark.
 */
export class UnderlayCapture {
  private readonly proc: ChildProcess;
  private err = '';
  readonly file: string;

  private constructor(lab: Lab, readonly host: string, dir: string, tag: string) {
    this.file = join(dir, `${tag}-${host}.pcap`);
    this.proc = lab.spawn(host, ['tcpdump', '-i', 'eth0', '-Q', 'out', '--immediate-mode', '-U', '-n', '-w', this.file, `udp dst port ${PORT}`]);
    this.proc.stderr!.on('data', (d: Buffer) => { this.err += d.toString(); });
  }

  /** Starts a capture on each host and resolves when all listen. */
  static async start(lab: Lab, hosts: string[], dir: string, tag: string): Promise<UnderlayCapture[]> {
    const caps = hosts.map((h) => new UnderlayCapture(lab, h, dir, tag));
    await Promise.all(caps.map((c) => c.listening()));
    return caps;
  }

  private listening(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setInterval(() => { if (this.err.includes('listening on')) { clearInterval(timer); resolve(); } }, 20);
      this.proc.once('exit', () => { clearInterval(timer); reject(new Error(`tcpdump on ${this.host}: ${this.err}`)); });
    });
  }

  /** Stops tcpdump (after a short grace so the last datagrams are written) and returns what it saw. */
  async stop(): Promise<Datagram[]> {
    await new Promise((r) => setTimeout(r, 300));
    if (this.proc.exitCode === null) {
      const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
      this.proc.kill('SIGINT');
      await exited;
    }
    if (!existsSync(this.file) || statSync(this.file).size <= 24) return [];
    const out = run('tshark', ['-r', this.file, '-n', '-d', `udp.port==${PORT},vxlan`, '-Y', 'vxlan', '-T', 'fields',
      '-E', 'separator=|', '-E', 'occurrence=a', '-E', 'aggregator=,',
      '-e', 'ip.src', '-e', 'ip.dst', '-e', 'vxlan.vni', '-e', 'eth.src', '-e', 'eth.dst', '-e', 'udp.dstport', '-e', 'arp.opcode', '-e', 'arp.dst.proto_ipv4']);
    return out.trim().split('\n').filter((l) => l.length > 0).map((line) => {
      const [ipSrc, ipDst, vni, ethSrc, ethDst, udpDport, arpOp, arpTarget] = line.split('|').map((f) => f.split(','));
      const innerUdp = (udpDport ?? []).length > 1 ? Number(udpDport![1]) : null;
      return {
        src: ipSrc![0]!,
        dst: ipDst![0]!,
        vni: Number(vni![0]),
        innerSrcMac: (ethSrc ?? [])[1] ?? '',
        innerDstMac: (ethDst ?? [])[1] ?? '',
        innerUdpDport: innerUdp,
        arpOp: arpOp && arpOp[0] ? Number(arpOp[0]) : null,
        arpTarget: arpTarget && arpTarget[0] ? arpTarget[0] : null,
      };
    });
  }
}

/** Starts a UDP broadcast receiver in a container (test/tools/bcast-recv.py); its lines are "payload from-ip". */
export class BroadcastReceiver {
  private readonly proc: ChildProcess;
  private out = '';

  constructor(lab: Lab, readonly container: string, port: number) {
    this.proc = lab.spawn(container, ['python3', '-u', join(PY_TOOLS, 'bcast-recv.py'), String(port)]);
    this.proc.stdout!.on('data', (d: Buffer) => { this.out += d.toString(); });
  }

  async ready(): Promise<void> {
    await waitFor(`${this.container}: broadcast receiver listening`, () => {
      if (this.proc.exitCode !== null) throw new Error(`bcast-recv in ${this.container} exited`);
      return this.out.includes('listening');
    }, 5000, 20);
  }

  /** Payloads received so far (each line once per datagram). */
  received(): string[] {
    return this.out.split('\n').filter((l) => l.length > 0 && l !== 'listening').map((l) => l.split(' ')[0]!);
  }

  stop(): void {
    this.proc.kill('SIGTERM');
  }
}

/** Sends one UDP datagram from a container to `dst` (a broadcast address works: SO_BROADCAST is set). */
export function sendUdp(lab: Lab, container: string, dst: string, port: number, payload: string): void {
  lab.exec(container, ['python3', '-c',
    'import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1); s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))',
    dst, String(port), payload]);
}

/** Sends one raw Ethernet frame (EtherType 0x88b5) from a container's eth0 to `dstMac`. */
export function sendFrame(lab: Lab, container: string, dstMac: string, tag: string, srcMac?: string): void {
  lab.exec(container, ['python3', join(PY_TOOLS, 'eth-send.py'), 'eth0', dstMac, tag, ...(srcMac !== undefined ? [srcMac] : [])]);
}

/** Sends `count` broadcast frames with random (locally administered, unicast) source MACs out of a container's eth0. */
export function macFlood(lab: Lab, container: string, count: number, seed = 1): void {
  lab.exec(container, ['python3', join(PY_TOOLS, 'mac-flood.py'), 'eth0', String(count), String(seed)]);
}
