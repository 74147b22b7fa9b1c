/**
 * The fuzz run (`npm run fuzz`; test/e2e/fuzz.test.ts runs a short one):
 * a real vxtap daemon and a peer in network namespaces, a flood of
 * malformed datagrams at the daemon's UDP port and malformed frames at its
 * TAP, and then the checks that every one of them is accounted for.
 *
 *        underlay bridge (ns <prefix>u), 192.168.77.0/24
 *     +--------------------------+---------------------------------+
 *   h1 .1: vxtap under test    h2 .2: vxtap peer, and the sender (gen.ts):
 *   10.44.1.0/24               from .2 (a known VTEP) and .3 (a stranger)
 *   TAP frames written by an AF_PACKET socket on h1's TAP (python3)
 *
 * Phases: both daemons up and a ping across; a warm-up (a tenth of the
 * datagrams and frames); the counters, the daemon's RSS and the kernel's UDP
 * counters read; the rest of the flood; wait until the counters are still;
 * read them again. Then the checks:
 *   - alive:    the daemon answers `vxtap stats` and its process runs;
 *   - books:    tapInFrames = encapFrames + arpAnswered + tapDrops, and
 *               netInFrames = decapFrames + netDrops, exactly;
 *   - reasons:  every drop reason the mix aims at has moved;
 *   - wire:     every datagram sent to it (the fuzzer's and the peer
 *               daemon's) was received, or dropped and counted by the
 *               kernel's UDP receive path (InErrors); frames written to the
 *               TAP are shown beside those read and the TAP queue's drops;
 *   - memory:   RSS growth from the warm-up point to the end is under a
 *               limit (16 MiB by default): with no allocation per frame it
 *               stays flat, a leak per datagram would not;
 *   - traffic:  a ping across the overlay still gets through.
 * Bounded: a count of datagrams and frames, and a deadline for the flood.
 * Everything runs in namespaces with the run's prefix, removed at the end
 * (and at exit, and stale ones at start).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { macFromIp } from '../../src/control/peers';
import { SLOT_HEADROOM } from '../../src/switch/switch';
import * as ethernet from '../../src/wire/ethernet';
import * as vxlan from '../../src/wire/vxlan';
import { pick, Rng, tapFrame, TAP_KINDS, type FuzzNet, type TapKind } from './gen';
import type { SenderArgs, SenderResult } from './sender';

const REPO = join(__dirname, '..', '..', '..');
const VXTAP = join(REPO, 'bin', 'vxtap.js');
const SENDER = join(__dirname, 'sender.js');
const VNI = 7;
const PORT = 4789;
const TAP = `vxtap.${VNI}`;
const MTU = 1450;
const IP = { h1: '192.168.77.1', h2: '192.168.77.2', stranger: '192.168.77.3' } as const;
const SUBNET = { h1: '10.44.1.0', h2: '10.44.2.0' } as const;

export interface FuzzOptions {
  /** Datagrams at the UDP port (default 1,000,000). */
  datagrams?: number;
  /** Frames at the TAP (default 100,000). */
  tapFrames?: number;
  /** The flood stops after this long, sent or not (default 600). */
  seconds?: number;
  seed?: number;
  /** Namespace prefix (default 'vxfuzz-'). */
  prefix?: string;
  /** `vxtap run` flags for the daemon under test: --io, --no-offload (default: none). */
  daemonArgs?: string[];
  /** Allowed RSS growth from the warm-up point to the end, MiB (default 16). */
  rssLimitMb?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface Books {
  tapInFrames: number;
  encapFrames: number;
  arpAnswered: number;
  tapDrops: number;
  netInFrames: number;
  decapFrames: number;
  netDrops: number;
  drops: Record<string, number>;
}

export interface FuzzReport {
  seed: number;
  daemonArgs: string[];
  sent: { datagrams: number; kinds: Record<string, number>; fromStranger: number; failed: Record<string, number>; tapFrames: number; tapFailed: number; tapKinds: Record<string, number>; cut: boolean };
  /** The daemon's counters at the end. */
  books: Books;
  /** What the warm-up point to the end added. */
  delta: { netInFrames: number; tapInFrames: number; peerEncap: number; kernelUdpInErrors: number; kernelUdpRcvbufErrors: number; tapWritten: number; kernelTapTxDropped: number };
  rssKb: { start: number; warm: number; end: number };
  floodMs: number;
  /** Each check, with whether it held. */
  checks: { name: string; ok: boolean; detail: string }[];
  ok: boolean;
}

interface StatsJson {
  pid: number;
  counters: Books & { [k: string]: unknown };
}

/** A stopped process is an error worth its stderr. */
function sh(cmd: string, args: string[], input?: string | Buffer): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

/** The namespaces and processes of one run. */
class Netns {
  private readonly procs = new Set<ChildProcess>();
  private readonly onExit = (): void => { for (const p of this.procs) p.kill('SIGKILL'); this.removeAll(); };
  constructor(readonly prefix: string) {
    this.removeAll();
    process.once('exit', this.onExit);
  }
  ns(h: string): string { return this.prefix + h; }
  exec(h: string, cmd: string[], input?: string | Buffer): string { return sh('ip', ['netns', 'exec', this.ns(h), ...cmd], input); }
  spawn(h: string, cmd: string[]): ChildProcess {
    const p = spawn('ip', ['netns', 'exec', this.ns(h), ...cmd], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.procs.add(p);
    p.once('exit', () => this.procs.delete(p));
    return p;
  }
  underlay(addrs: Record<string, string>): void {
    const sw = this.ns('u');
    sh('ip', ['netns', 'add', sw]);
    sh('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    sh('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
    for (const [h, cidr] of Object.entries(addrs)) {
      const n = this.ns(h);
      sh('ip', ['netns', 'add', n]);
      sh('ip', ['-n', n, 'link', 'set', 'lo', 'up']);
      sh('ip', ['-n', sw, 'link', 'add', `p-${h}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n]);
      sh('ip', ['-n', sw, 'link', 'set', `p-${h}`, 'master', 'br0', 'up']);
      sh('ip', ['-n', n, 'link', 'set', 'eth0', 'up']);
      sh('ip', ['-n', n, 'addr', 'add', cidr, 'dev', 'eth0']);
      sh('ip', ['-n', n, 'route', 'add', 'default', 'dev', 'eth0']);
    }
  }
  async close(): Promise<void> {
    await Promise.all([...this.procs].map((p) => new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) { resolve(); return; }
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      p.once('exit', () => { clearTimeout(t); resolve(); });
      p.kill('SIGTERM');
    })));
    this.removeAll();
    process.removeListener('exit', this.onExit);
  }
  private removeAll(): void {
    let names: string[] = [];
    try { names = sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(this.prefix)); } catch { /* none */ }
    for (const n of names) {
      try { for (const pid of sh('ip', ['netns', 'pids', n]).split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
      try { sh('ip', ['netns', 'delete', n]); } catch { /* gone */ }
    }
  }
}

/** Writes frames on an interface through an AF_PACKET socket: Node has none, python3 has. */
const PACKET_WRITER = `
import json, socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
data = sys.stdin.buffer.read()
i = sent = failed = 0
while i < len(data):
    n = struct.unpack_from('>H', data, i)[0]
    i += 2
    try:
        s.send(data[i:i + n])
        sent += 1
    except OSError:
        failed += 1
    i += n
print(json.dumps({'sent': sent, 'failed': failed}))
`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The largest datagram a receive slot of the daemon holds (switch.ts sizes the slots from the MTU). */
function slotCapacity(mtu: number): number {
  return Math.ceil((SLOT_HEADROOM + mtu + ethernet.VLAN_HEADER_LEN + vxlan.HEADER_LEN) / 64) * 64 - SLOT_HEADROOM;
}

export async function runFuzz(opts: FuzzOptions = {}): Promise<FuzzReport> {
  const datagrams = opts.datagrams ?? 1_000_000;
  const tapFrames = opts.tapFrames ?? 100_000;
  const seed = opts.seed ?? (Date.now() >>> 0);
  const daemonArgs = opts.daemonArgs ?? [];
  const log = opts.log ?? ((): void => undefined);
  const deadline = Date.now() + (opts.seconds ?? 600) * 1000;
  const net: FuzzNet = { vni: VNI, selfMac: macFromIp(IP.h1), selfNet: SUBNET.h1, peerMac: macFromIp(IP.h2), peerNet: SUBNET.h2, slotCapacity: slotCapacity(MTU) };
  const lab = new Netns(opts.prefix ?? 'vxfuzz-');
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-fuzz-'));
  try {
    lab.underlay({ h1: `${IP.h1}/24`, h2: `${IP.h2}/24` });
    for (const [self, other] of [['h1', 'h2'], ['h2', 'h1']] as const) {
      writeFileSync(join(dir, `${self}.json`), JSON.stringify({ vni: VNI, port: PORT, self: { subnet: `${SUBNET[self]}/24` }, peers: [{ subnet: `${SUBNET[other]}/24`, publicIp: IP[other] }] }));
    }
    const daemons = {
      h1: startDaemon(lab, 'h1', [...daemonArgs, '--peers', join(dir, 'h1.json'), '--iface', 'eth0', '--public-ip', IP.h1]),
      h2: startDaemon(lab, 'h2', ['--peers', join(dir, 'h2.json'), '--iface', 'eth0', '--public-ip', IP.h2]),
    };
    const [s0] = await Promise.all([waitUp(lab, 'h1', daemons.h1), waitUp(lab, 'h2', daemons.h2)]);
    // The stranger's address, once the peer has taken its own.
    lab.exec('h2', ['ip', 'addr', 'add', `${IP.stranger}/24`, 'dev', 'eth0']);
    ping(lab, 'h1', SUBNET.h2);
    const pid = s0.pid;
    const rssStart = rssKb(pid);
    log(`daemons up (h1 pid ${pid}${daemonArgs.length ? `, ${daemonArgs.join(' ')}` : ''}); seed ${seed}`);

    const rng = new Rng(seed ^ 0x5eed);
    const warmD = Math.max(1, Math.floor(datagrams / 10));
    const warmT = Math.floor(tapFrames / 10);
    const sentTotal = { datagrams: 0, kinds: {} as Record<string, number>, fromStranger: 0, failed: {} as Record<string, number>, tapFrames: 0, tapFailed: 0, tapKinds: {} as Record<string, number>, cut: false };
    const flood = async (nD: number, nT: number, s: number): Promise<void> => {
      const [r, t] = await Promise.all([sendDatagrams(lab, { target: IP.h1, port: PORT, knownIp: IP.h2, strangerIp: IP.stranger, count: nD, seed: s, net, deadline }), writeTapFrames(lab, rng, nT, net, sentTotal.tapKinds)]);
      sentTotal.datagrams += r.sent;
      sentTotal.fromStranger += r.fromStranger;
      sentTotal.cut ||= r.cut;
      for (const [k, v] of Object.entries(r.kinds)) sentTotal.kinds[k] = (sentTotal.kinds[k] ?? 0) + v;
      for (const [k, v] of Object.entries(r.failed)) sentTotal.failed[k] = (sentTotal.failed[k] ?? 0) + v;
      sentTotal.tapFrames += t.sent;
      sentTotal.tapFailed += t.failed;
    };

    await flood(warmD, warmT, seed);
    const warmSent = sentTotal.datagrams;
    const tapWarmSent = sentTotal.tapFrames;
    const w1 = await settle(lab);
    const w2 = stats(lab, 'h2');
    const snmpW = udpSnmp(lab, 'h1');
    const tapDroppedW = tapTxDropped(lab);
    const rssWarm = rssKb(pid);
    log(`warm-up: ${sentTotal.datagrams} datagrams, ${sentTotal.tapFrames} TAP frames; RSS ${(rssWarm / 1024).toFixed(1)} MiB`);

    const t0 = Date.now();
    await flood(datagrams - warmD, tapFrames - warmT, (seed + 1) >>> 0);
    const floodMs = Date.now() - t0;
    const e1 = await settle(lab);
    const e2 = stats(lab, 'h2');
    const snmpE = udpSnmp(lab, 'h1');
    const tapDroppedE = tapTxDropped(lab);
    const rssEnd = rssKb(pid);
    log(`flood: ${sentTotal.datagrams} datagrams and ${sentTotal.tapFrames} TAP frames in all, the rest in ${floodMs} ms; RSS ${(rssEnd / 1024).toFixed(1)} MiB`);

    const c = e1.counters;
    const books: Books = {
      tapInFrames: c.tapInFrames, encapFrames: c.encapFrames, arpAnswered: c.arpAnswered, tapDrops: c.tapDrops,
      netInFrames: c.netInFrames, decapFrames: c.decapFrames, netDrops: c.netDrops, drops: c.drops,
    };
    const delta = {
      netInFrames: c.netInFrames - w1.counters.netInFrames,
      tapInFrames: c.tapInFrames - w1.counters.tapInFrames,
      peerEncap: e2.counters.encapFrames - w2.counters.encapFrames,
      kernelUdpInErrors: snmpE.InErrors - snmpW.InErrors,
      kernelUdpRcvbufErrors: snmpE.RcvbufErrors - snmpW.RcvbufErrors,
      tapWritten: sentTotal.tapFrames - tapWarmSent,
      kernelTapTxDropped: tapDroppedE - tapDroppedW,
    };
    const checks: FuzzReport['checks'] = [];
    const check = (name: string, ok: boolean, detail: string): void => { checks.push({ name, ok, detail }); };
    const sumDrops = (names: string[]): number => names.reduce((s, n) => s + (c.drops[n] ?? 0), 0);
    check('alive', daemons.h1.exitCode === null && daemons.h1.signalCode === null, `pid ${pid} still runs and answers vxtap stats`);
    check('books (network side)', c.netInFrames === c.decapFrames + c.netDrops, `received ${c.netInFrames} = decapsulated ${c.decapFrames} + dropped ${c.netDrops}`);
    check('books (TAP side)', c.tapInFrames === c.encapFrames + c.arpAnswered + c.tapDrops, `read ${c.tapInFrames} = encapsulated ${c.encapFrames} + ARP answered ${c.arpAnswered} + dropped ${c.tapDrops}`);
    check('books (drops by reason)', sumDrops(Object.keys(c.drops)) === c.netDrops + c.tapDrops, 'the reasons add up to the two sides\' drops');
    const aimed = ['unknown-vtep', 'vxlan-too-short', 'vxlan-no-i-flag', 'vxlan-unknown-vni', 'inner-spoof', 'vxlan-too-long', ...(tapFrames > 0 ? ['flood', 'fdb-miss', 'arp-miss'] : [])];
    const still = aimed.filter((n) => (c.drops[n] ?? 0) === 0);
    check('every aimed-at reason counted', still.length === 0, still.length === 0 ? aimed.map((n) => `${n} ${c.drops[n]}`).join(', ') : `never counted: ${still.join(', ')}`);
    const cameIn = sentTotal.datagrams - warmSent;
    const offered = cameIn + delta.peerEncap;
    // Every datagram sent was either received by the daemon or dropped by the
    // kernel's UDP receive path, which counts what it drops (InErrors: a full
    // buffer, a bad checksum). The sender keeps few sends in flight, so the
    // underlay itself (veth backlogs) does not overflow.
    check('every datagram sent is received or counted by the kernel', delta.netInFrames + delta.kernelUdpInErrors === offered,
      `after the warm-up: ${offered} sent to it (${cameIn} by the fuzzer, ${delta.peerEncap} by the peer daemon), ${delta.netInFrames} received, ` +
      `${delta.kernelUdpInErrors} UDP receive errors counted by the kernel (${delta.kernelUdpRcvbufErrors} for a full buffer)`);
    // The host's own frames on the TAP (IPv6 neighbour discovery and the like) may add a few.
    check('no more read from the TAP than written to it', delta.tapInFrames <= delta.tapWritten + 100,
      `after the warm-up: ${delta.tapWritten} frames written, ${delta.tapInFrames} read; the TAP's queue dropped ${delta.kernelTapTxDropped} (tx_dropped)`);
    check('some of it arrived', delta.netInFrames >= offered / 2, `${delta.netInFrames} of ${offered}`);
    const limit = (opts.rssLimitMb ?? 16) * 1024;
    check('RSS flat', rssEnd - rssWarm < limit, `RSS ${rssStart} kB at start, ${rssWarm} kB after the warm-up, ${rssEnd} kB at the end: +${rssEnd - rssWarm} kB (limit ${limit} kB)`);
    let pinged = true;
    let pingDetail = 'ping h1 -> 10.44.2.0: 0% loss';
    try { ping(lab, 'h1', SUBNET.h2); ping(lab, 'h2', SUBNET.h1); } catch (err) { pinged = false; pingDetail = (err as Error).message; }
    check('traffic still flows', pinged, pingDetail);
    check('still alive', daemons.h1.exitCode === null, 'after the ping');

    const report: FuzzReport = { seed, daemonArgs, sent: sentTotal, books, delta, rssKb: { start: rssStart, warm: rssWarm, end: rssEnd }, floodMs, checks, ok: checks.every((k) => k.ok) };
    await stopDaemon(daemons.h1);
    await stopDaemon(daemons.h2);
    return report;
  } finally {
    await lab.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function startDaemon(lab: Netns, h: string, args: string[]): ChildProcess {
  const p = lab.spawn(h, [process.execPath, VXTAP, 'run', '--tap', TAP, '--log-format', 'json', ...args]);
  let err = '';
  p.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
  p.stdout!.on('data', () => undefined);
  p.once('exit', (code) => { if (code !== 0 && code !== null) process.stderr.write(`vxtap on ${h} exited with ${code}: ${err}\n`); });
  return p;
}

async function stopDaemon(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await new Promise<void>((resolve) => { p.once('exit', () => resolve()); p.kill('SIGTERM'); });
}

function stats(lab: Netns, h: string): StatsJson {
  return JSON.parse(lab.exec(h, [process.execPath, VXTAP, 'stats', '--json', '--tap', TAP])) as StatsJson;
}

async function waitUp(lab: Netns, h: string, p: ChildProcess): Promise<StatsJson> {
  const end = Date.now() + 30_000;
  for (;;) {
    if (p.exitCode !== null) throw new Error(`vxtap on ${h} exited with ${p.exitCode}`);
    try {
      const s = stats(lab, h);
      if (lab.exec(h, ['ip', 'route']).includes('onlink')) return s;
    } catch (err) {
      if (Date.now() > end) throw new Error(`vxtap on ${h} did not come up: ${(err as Error).message}`);
    }
    if (Date.now() > end) throw new Error(`vxtap on ${h} installed no route`);
    await sleep(200);
  }
}

/** Reads the counters until they stop moving (the daemon has read what its sockets hold). */
async function settle(lab: Netns): Promise<StatsJson> {
  let last = stats(lab, 'h1');
  for (let i = 0; i < 50; i++) {
    await sleep(200);
    const now = stats(lab, 'h1');
    if (now.counters.netInFrames === last.counters.netInFrames && now.counters.tapInFrames === last.counters.tapInFrames) return now;
    last = now;
  }
  return last;
}

function ping(lab: Netns, h: string, to: string): void {
  const out = lab.exec(h, ['ping', '-c', '3', '-i', '0.2', '-W', '2', to]);
  if (!/ 0% packet loss/.test(out)) throw new Error(`ping ${h} -> ${to}:\n${out}`);
}

/** Frames the kernel dropped at the TAP's queue (the daemon never saw them). */
function tapTxDropped(lab: Netns): number {
  const link = JSON.parse(lab.exec('h1', ['ip', '-j', '-s', 'link', 'show', TAP])) as { stats64?: { tx?: { dropped?: number } } }[];
  return link[0]?.stats64?.tx?.dropped ?? 0;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : -1;
}

/** The kernel's UDP counters in the namespace (/proc/net/snmp). */
function udpSnmp(lab: Netns, h: string): Record<string, number> {
  const lines = lab.exec(h, ['cat', '/proc/net/snmp']).split('\n').filter((l) => l.startsWith('Udp:'));
  const keys = lines[0]!.split(/\s+/).slice(1);
  const vals = lines[1]!.split(/\s+/).slice(1).map(Number);
  return Object.fromEntries(keys.map((k, i) => [k, vals[i]!]));
}

function sendDatagrams(lab: Netns, args: SenderArgs): Promise<SenderResult> {
  if (args.count <= 0) return Promise.resolve({ sent: 0, failed: {}, kinds: {}, fromStranger: 0, cut: false, ms: 0 });
  return new Promise((resolve, reject) => {
    const p = lab.spawn('h2', [process.execPath, SENDER, JSON.stringify(args)]);
    let out = '';
    let err = '';
    p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    p.once('exit', (code) => {
      if (code !== 0) { reject(new Error(`sender exited with ${code}: ${err}`)); return; }
      resolve(JSON.parse(out.trim()) as SenderResult);
    });
  });
}

function writeTapFrames(lab: Netns, rng: Rng, count: number, net: FuzzNet, kinds: Record<string, number>): Promise<{ sent: number; failed: number }> {
  if (count <= 0) return Promise.resolve({ sent: 0, failed: 0 });
  const chunks: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const kind: TapKind = pick(rng, TAP_KINDS);
    kinds[kind] = (kinds[kind] ?? 0) + 1;
    const f = tapFrame(kind, rng, net);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(f.length);
    chunks.push(len, f);
  }
  return new Promise((resolve, reject) => {
    const p = lab.spawn('h1', ['python3', '-c', PACKET_WRITER, TAP]);
    let out = '';
    let err = '';
    p.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    p.once('exit', (code) => {
      if (code !== 0) reject(new Error(`TAP writer exited with ${code}: ${err}`));
      else resolve(JSON.parse(out.trim()) as { sent: number; failed: number });
    });
    p.stdin!.end(Buffer.concat(chunks));
  });
}
