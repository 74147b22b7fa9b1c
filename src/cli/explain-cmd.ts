/**
 * `vxtap explain`: what vxtap would do with a made-up frame, without sending
 * it (Open vSwitch's `ofproto/trace`, for vxtap; issue #12).
 *
 * From the TAP, for an IP packet, the host kernel decides first:
 *   1. route     `ip route get DST` (our rtnetlink, in this namespace, which
 *                must be the daemon's: checkKernelNamespace): a
 *                route that does not leave by the TAP (or, L2 mode, the
 *                bridge the TAP is a port of) means the packet never
 *                reaches vxtap, and the answer says where it goes instead;
 *   2. next hop  the kernel ARPs for the route's gateway on the TAP: that
 *                ARP request is itself explained (vxtap's ARP responder
 *                answers or misses), and its answer is the frame's
 *                destination MAC;
 * then the frame goes to the daemon (`explain` on its control socket), which
 * runs it through the pipeline in a dry run and names each table entry's
 * source (control/api/explain.ts). From the network the datagram goes to
 * the daemon directly. Nothing is sent, no counter moves, no table changes.
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import { readFileSync } from 'node:fs';
import { request } from '../control/api/client';
import { currentNetns, resolveSocket, socketNetns } from '../control/api/paths';
import type { PeerRow, StatsData } from '../control/api/protocol';
import type { ExplainData } from '../control/api/explain';
import { Rtnl, RtnlError, type RtnlRoute } from '../control/rtnl';
import { ConfigError } from '../errors';
import { formatLayers } from '../wire/decode';
import * as arp from '../wire/arp';
import * as ethernet from '../wire/ethernet';
import { formatMac } from '../wire/addr';
import { addressesOf, buildDatagram, buildFrame, parseNetSpec, parseTapSpec, type TapSpec } from './explain-spec';
import { readCapture, type PcapngFile } from '../io/pcapng';
import { LINKTYPE_ETHERNET } from '../io/pcap';

export interface ExplainFlags {
  controlSocket?: string;
  tap?: string;
  fromTap?: string;
  fromNet?: string;
  hex?: string;
  pcap?: string;
  index?: number;
  side?: 'tap' | 'net';
  from?: string;
  json?: boolean;
}

/** The kernel's part, for a packet from this host into the overlay. */
export interface KernelStep {
  /** What was asked, as `ip` would be asked. */
  asked: string;
  /** The route the kernel chose, as `ip route` prints it; null: no route (the lookup's errno in `error`). */
  route: string | null;
  dev: string | null;
  /** Whether the packet leaves by the TAP (or the bridge the TAP is a port of). */
  reachesVxtap: boolean;
  /** The next hop the kernel resolves on the TAP (the gateway, or the destination itself). */
  nextHop: string | null;
  /**
   * The kernel's neighbour entry for the next hop on that interface (`ip
   * neigh show NEXTHOP dev DEV`), as text: with an entry in a usable state
   * the kernel sends to that MAC without asking; without one it ARPs first.
   */
  neighbour?: string;
  text: string;
  error?: string;
}

export interface ExplainOutput {
  kernel: KernelStep | null;
  /** The ARP request the kernel sends for the next hop, explained (null: not asked). */
  nextHop: ExplainData | null;
  /** The frame itself, explained; null when it never reaches vxtap (or the next hop is not answered). */
  explain: ExplainData | null;
  /** Why the explanation stops before vxtap, or null. */
  stop: string | null;
}

export function addExplainOptions(cmd: Command): Command {
  return cmd
    .option('--from-tap <spec>', 'a frame from the TAP: "icmp 10.44.1.2 > 10.44.2.2", "tcp A:P > B:P", "udp A:P > B:P", "arp who-has T tell S", optionally after "ether SRC > DST :"')
    .option('--from-net <spec>', 'a VXLAN datagram: "vxlan [vni N] [no-i-flag] from IP[:PORT] : icmp 10.44.2.2 > 10.44.1.2"')
    .option('--hex <hex>', 'the frame in hex (tap: Ethernet; net: the UDP payload from the VXLAN header on); needs --side')
    .option('--pcap <file>', 'a frame from a pcap file (Ethernet link type; net side: the UDP payload of the packet); needs --side')
    .addOption(new Option('--index <n>', 'with --pcap: which packet, from 0').default(0).argParser((v) => { const n = Number(v); if (!Number.isInteger(n) || n < 0) throw new ConfigError(`--index: expected an integer >= 0, got ${JSON.stringify(v)}`, 'index'); return n; }))
    .addOption(new Option('--side <side>', 'with --hex or --pcap: tap or net').choices(['tap', 'net']))
    .option('--from <ip:port>', 'with --hex/--pcap --side net: the datagram\'s source')
    .option('--json', 'as JSON')
    .option('--tap <name>', 'the daemon of this TAP (default: the only daemon in this network namespace)')
    .option('--control-socket <path>', 'the daemon\'s control socket');
}

export function registerExplainCommand(program: Command): void {
  addExplainOptions(program.command('explain')
    .description('what vxtap would do with a made-up frame, step by step, without sending it: the kernel\'s route, ARP, FDB, encap or the drop and why, each entry with its source'))
    .action(async (f: ExplainFlags) => {
      const out = await runExplain(f);
      process.stdout.write(f.json === true ? JSON.stringify(out, null, 2) + '\n' : renderExplain(out));
    });
}

const TIMEOUT_MS = 10_000;

export async function runExplain(f: ExplainFlags): Promise<ExplainOutput> {
  const given = [f.fromTap, f.fromNet, f.hex, f.pcap].filter((x) => x !== undefined).length;
  if (given !== 1) throw new ConfigError('explain takes one of --from-tap, --from-net, --hex or --pcap', 'from-tap');
  // Parse before any I/O: a bad spec is exit 2 whether a daemon runs or not.
  const tapSpec = f.fromTap !== undefined ? parseTapSpec(f.fromTap) : null;
  const netSpec = f.fromNet !== undefined ? parseNetSpec(f.fromNet) : null;
  if ((f.hex !== undefined || f.pcap !== undefined) && f.side === undefined) throw new ConfigError('--hex and --pcap need --side tap|net', 'side');
  const raw = f.hex !== undefined ? hexFrame(f.hex) : f.pcap !== undefined ? pcapFrame(f.pcap, f.index ?? 0, f.side!) : null;
  if (raw !== null && f.side === 'net' && f.from === undefined) throw new ConfigError('--side net needs --from IP:PORT (the datagram\'s source)', 'from');

  const path = resolveSocket({ ...(f.controlSocket !== undefined ? { controlSocket: f.controlSocket } : {}), ...(f.tap !== undefined ? { tap: f.tap } : {}) });
  const ask = (side: 'tap' | 'net', frame: Buffer, from?: string): Promise<ExplainData> =>
    request(path, 'explain', TIMEOUT_MS, { side, frame: frame.toString('hex'), ...(from !== undefined ? { from } : {}) });

  if (raw !== null) return { kernel: null, nextHop: null, explain: await ask(f.side!, raw, f.from), stop: null };
  const stats = await request(path, 'stats');
  if (netSpec !== null) {
    const port = netSpec.fromPort ?? stats.port;
    let src = netSpec.inner.ether?.src;
    if (src === undefined) {
      // The sending peer's VTEP MAC, as its lease says (routed); L2: name it with "ether".
      const peer = (await request(path, 'peers')).find((p: PeerRow) => p.publicIp === netSpec.from);
      src = peer?.vtepMac ?? '02:00:00:00:00:01';
    }
    const inner = buildFrame(netSpec.inner, { src, dst: stats.vtepMac });
    return { kernel: null, nextHop: null, explain: await ask('net', buildDatagram(netSpec.vni ?? stats.vni, netSpec.noIFlag, inner), `${netSpec.from}:${port}`), stop: null };
  }
  return fromTap(tapSpec!, stats, ask, () => checkKernelNamespace(path));
}

/**
 * The kernel's route must be asked in the daemon's network namespace, and
 * rtnetlink answers for the one this process is in: when the socket's path
 * (paths.ts) names another, refuse rather than explain with another
 * kernel's routes. A socket outside /run/vxtap says nothing: this one is asked.
 */
export function checkKernelNamespace(socketPath: string, here: string | null = currentNetns()): void {
  const there = socketNetns(socketPath);
  if (there === undefined || there === here) return;
  const where = (ns: string | null): string => (ns === null ? 'the host\'s (unnamed) network namespace' : `network namespace ${ns}`);
  const how = there === null
    ? 'run it in that namespace (from the host: without `ip netns exec`)'
    : `run it there: ip netns exec ${there} vxtap explain ...`;
  throw new ConfigError(`the daemon at ${socketPath} runs in ${where(there)}, this command in ${where(here)}: the kernel's route (ip route get) must be asked in the daemon's namespace; ${how}`, 'control-socket');
}

async function fromTap(spec: TapSpec, stats: StatsData, ask: (side: 'tap' | 'net', frame: Buffer) => Promise<ExplainData>, sameNamespace: () => void): Promise<ExplainOutput> {
  const p = spec.packet;
  if (p.kind === 'arp') {
    // An ARP request is the kernel's own question on the TAP: no route to ask.
    const frame = buildFrame(spec, { src: stats.vtepMac, dst: 'ff:ff:ff:ff:ff:ff' });
    return { kernel: null, nextHop: null, explain: await ask('tap', frame), stop: null };
  }
  const l2 = stats.mode === 'l2';
  // L2 mode: the frame comes from a station on the bridge behind the TAP, not
  // from this namespace's routing; the bridge hands it to the TAP by its FDB.
  if (!l2) sameNamespace();
  const kernel = l2 ? null : await kernelStep(addressesOf(p).dst, stats.tap);
  if (kernel !== null && !kernel.reachesVxtap) return { kernel, nextHop: null, explain: null, stop: kernel.text };
  if (spec.ether !== null) return { kernel, nextHop: null, explain: await ask('tap', buildFrame(spec, spec.ether)), stop: null };
  // The ARP request for the next hop (routed: the kernel's, on the TAP; L2: the station's, for the destination).
  const hop = kernel?.nextHop ?? addressesOf(p).dst;
  const sender = l2 ? addressesOf(p).src : stats.subnet.split('/')[0]!;
  const who = buildFrame({ ether: null, packet: { kind: 'arp', target: hop, sender } }, { src: stats.vtepMac, dst: 'ff:ff:ff:ff:ff:ff' });
  const nextHop = await ask('tap', who);
  if (nextHop.replyHex === null && l2) {
    return {
      kernel, nextHop, explain: null,
      stop: `vxtap does not answer the ARP request for ${hop} itself (${nextHop.verdict}${nextHop.drop !== null ? `: ${nextHop.drop.name}` : ''}): the answer would come from the network, so the destination MAC is not known here. Name the MACs with "ether SRC > DST :" to explain the frame`,
    };
  }
  if (nextHop.replyHex === null) {
    const why = nextHop.drop !== null ? `${nextHop.drop.name}: ${nextHop.drop.explanation}` : nextHop.verdict;
    return {
      kernel, nextHop, explain: null,
      stop: `the kernel ARPs for the next hop ${hop} on ${stats.tap} and vxtap does not answer (${why}): the packet waits in the kernel's neighbour queue and is dropped there (ip neigh shows ${hop} FAILED); vxtap never sees it. Name the MACs with "ether SRC > DST :" to explain the frame anyway`,
    };
  }
  const reply = Buffer.from(nextHop.replyHex, 'hex');
  const mac = formatMac(reply, ethernet.HEADER_LEN + arp.field.SHA);
  return { kernel, nextHop, explain: await ask('tap', buildFrame(spec, { src: stats.vtepMac, dst: mac })), stop: null };
}

/** The kernel's neighbour entry for `hop` on interface `oif`, in words; null when it cannot be read. */
async function neighbourText(rt: Rtnl, oif: number, hop: string, dev: string): Promise<string | null> {
  let n;
  try {
    n = await rt.neighbour(oif, hop);
  } catch {
    return null;
  }
  const asked = `ip neigh show ${hop} dev ${dev}`;
  if (n === null) return `${asked}: no entry: the kernel first asks "who has ${hop}?" on ${dev} (the ARP request below), and holds the packet until it has an answer`;
  const usable = ['REACHABLE', 'PERMANENT', 'NOARP', 'STALE', 'DELAY', 'PROBE'].includes(n.stateName);
  return usable
    ? `${asked}: ${hop} lladdr ${n.mac} ${n.stateName}: the kernel sends the packet to that MAC without asking (the ARP request below is how it got it)`
    : `${asked}: ${hop} ${n.stateName}${n.mac !== null && n.mac !== '' ? ` lladdr ${n.mac}` : ''}: the kernel asks again (the ARP request below) before it sends`;
}

/** `ip route get DST` in this namespace, and whether it leaves by the TAP (or the bridge the TAP is a port of). */
export async function kernelStep(dst: string, tap: string): Promise<KernelStep> {
  const asked = `ip route get ${dst}`;
  const rt = Rtnl.open();
  try {
    let route: RtnlRoute;
    let match: RtnlRoute | null = null;
    try {
      route = await rt.routeGet(dst);
      match = await rt.routeGet(dst, { fibMatch: true }).catch(() => null);
    } catch (err) {
      const errno = err instanceof RtnlError ? err.errno : (err as Error).message;
      return { asked, route: null, dev: null, reachesVxtap: false, nextHop: null, error: String(errno),
        text: `this packet never reaches vxtap: the kernel has no route to ${dst} (${asked}: ${String(errno)})` };
    }
    const link = route.oif !== undefined ? await rt.linkByIndex(route.oif) : null;
    const tapLink = await rt.link(tap);
    const dev = link?.name ?? null;
    const shown = routeText(match ?? route, dev);
    const viaBridge = tapLink !== null && tapLink.master !== 0 && link !== null && link.index === tapLink.master;
    const reaches = dev === tap || viaBridge;
    if (route.type === 2) {
      return { asked, route: shown, dev, reachesVxtap: false, nextHop: null, text: `this packet never reaches vxtap: ${dst} is an address of this host (a local route): the kernel delivers it itself` };
    }
    if (!reaches) {
      return { asked, route: shown, dev, reachesVxtap: false, nextHop: null,
        text: `this packet never reaches vxtap: the kernel routes it via ${dev ?? '?'} (${shown})${(match?.dst ?? route.dst) === '0.0.0.0/0' ? ', the default route: no peer has a lease for this subnet, so vxtap installed no route for it' : ''}` };
    }
    const nextHop = route.gateway ?? dst;
    const neighbour = route.oif === undefined ? null : await neighbourText(rt, route.oif, nextHop, dev ?? '?');
    return { asked, route: shown, dev, reachesVxtap: true, nextHop, ...(neighbour !== null ? { neighbour } : {}),
      text: `the kernel routes it to ${dev}${viaBridge ? ` (the bridge ${tap} is a port of)` : ''}: ${shown}; next hop ${nextHop}` };
  } finally {
    await rt.close();
  }
}

function routeText(r: RtnlRoute, dev: string | null): string {
  return `${r.dst === '0.0.0.0/0' ? 'default' : r.dst}${r.gateway !== undefined ? ` via ${r.gateway}` : ''}${dev !== null ? ` dev ${dev}` : ''}` +
    `${r.onlink ? ' onlink' : ''} proto ${r.protocol}${r.priority !== 0 ? ` metric ${r.priority}` : ''}${r.prefsrc !== undefined ? ` src ${r.prefsrc}` : ''}`;
}

function hexFrame(hex: string): Buffer {
  const h = hex.replace(/[\s:]/g, '');
  if (!/^([0-9a-fA-F]{2})+$/.test(h)) throw new ConfigError('--hex: expected hex digits, two per byte (spaces and colons are ignored)', 'hex');
  return Buffer.from(h, 'hex');
}

/**
 * Packet `index` of a capture (classic pcap or pcapng: vxtap's own --pcap
 * files are pcapng) with Ethernet frames. Side tap: the frame as it is; side
 * net: the UDP payload of an Ethernet/IPv4/UDP packet (the VXLAN header on),
 * as a socket would receive it.
 */
export function pcapFrame(file: string, index: number, side: 'tap' | 'net'): Buffer {
  let cap: PcapngFile;
  try { cap = readCapture(readFileSync(file)); } catch (err) { throw new ConfigError(`--pcap ${file}: ${(err as Error).message}`, 'pcap'); }
  const pkt = cap.packets[index];
  if (pkt === undefined) throw new ConfigError(`--pcap ${file}: no packet ${index} (the file has ${cap.packets.length})`, 'index');
  const linktype = cap.interfaces[pkt.iface]?.linktype;
  if (linktype !== LINKTYPE_ETHERNET) throw new ConfigError(`--pcap ${file}: packet ${index}'s link type is ${String(linktype)}, expected ${LINKTYPE_ETHERNET} (Ethernet)`, 'pcap');
  const data = pkt.data;
  if (side === 'tap') return Buffer.from(data);
  const l3 = ethernet.l3Offset(data, 0);
  const ihl = (data[l3]! & 0x0f) * 4;
  if (ethernet.etherType(data, 0) !== ethernet.ETHERTYPE_IPV4 || data[l3 + 9] !== 17) throw new ConfigError(`--pcap ${file}: packet ${index} is not IPv4/UDP (needed for --side net)`, 'pcap');
  return Buffer.from(data.subarray(l3 + ihl + 8));
}

/** The explanation as text, in the trace's words. */
export function renderExplain(o: ExplainOutput): string {
  const lines = ['explain: a dry run (nothing is sent, no counter moves, no table changes)', ''];
  if (o.kernel !== null) {
    lines.push(`kernel    ${o.kernel.asked}: ${o.kernel.route ?? o.kernel.error ?? '?'}`);
    if (o.stop !== o.kernel.text) lines.push(`          ${o.kernel.text}`);
    if (o.kernel.neighbour !== undefined) lines.push(`kernel    ${o.kernel.neighbour}`);
  }
  if (o.nextHop !== null) {
    lines.push('', `next hop  the ARP request for ${o.nextHop.trace.lookups.find((l) => l.table === 'arp' || l.table === 'l2arp')?.key ?? o.kernel?.nextHop ?? '?'}, as vxtap would take it:`);
    lines.push(...explainLines(o.nextHop).map((l) => '  ' + l));
  }
  if (o.explain !== null) {
    if (o.nextHop !== null) lines.push('', 'the packet, with that MAC:');
    lines.push(...explainLines(o.explain));
  }
  if (o.stop !== null) lines.push('', `=> ${o.stop}`);
  return lines.join('\n') + '\n';
}

function explainLines(e: ExplainData): string[] {
  const t = e.trace;
  const from = t.outer ? `from network ${t.outer.src}:${t.outer.srcPort} → ${t.outer.dst}:${t.outer.dstPort}, ${t.len} bytes of UDP payload` : `from TAP, ${t.len} bytes`;
  const lines = [`${from} (${e.mode} mode)`];
  for (const l of formatLayers(t.layers).split('\n')) lines.push('  ' + l);
  t.lookups.forEach((l, i) => {
    lines.push(`  lookup  ${l.text}`);
    for (const s of e.sources.filter((x) => x.lookup === i)) lines.push(`  source    ${s.text}`);
  });
  lines.push(`  =>      ${t.reason}${e.drop !== null ? ` (${e.drop.explanation})` : ''}`);
  if (e.peerChecks.length > 0) {
    lines.push('  the peer, on decap, checks:');
    for (const c of e.peerChecks) lines.push(`    - ${c}`);
  }
  return lines;
}
