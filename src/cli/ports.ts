/**
 * The two ports of a node, opened the same way in either mode (routed,
 * node.ts; L2, node-l2.ts): the TAP with its offloads, the UDP port on the
 * chosen path (falling back to Node's sockets without CAP_NET_RAW), the pcap
 * recorder around both when asked, and what a port's failure does.
 */
import type { Logger } from 'pino';
import { UnderlayCapture } from '../io/packet-capture';
import { PcapDatagramPort, PcapFramePort, PcapRecorder, socketDescription } from '../io/pcap-port';
import { localUnderlayFacts } from '../io/underlay-facts';
import { vtepKey } from '../io/vtep-key';
import { TapPort } from '../io/tap';
import { SystemError } from '../errors';
import { BatchUdpPort } from '../io/udp-batch';
import { DgramUdpPort } from '../io/udp-dgram';
import type { CallCounts, DatagramPort, FramePort } from '../io/port';
import { readFileSync } from 'node:fs';
import { outerMacLookup, UnderlayRoutes } from '../control/underlay-route';
import { SOURCE_PORT_MIN } from '../switch/flow-hash';
import { createTracer, type OuterContext, type SendPath, type TraceFormat } from '../switch/trace';
import type { Tracer } from '../switch/trace-hook';

export type IoMode = 'batch' | 'dgram';

/** Opens (or makes) the TAP and says what came of its offloads. */
export function openTap(name: string, offload: boolean, log: Logger): TapPort {
  const tap = TapPort.open(name, { offload });
  if (offload) {
    if (tap.offload.enabled) log.info({ offload: tap.offload }, `TAP ${tap.name}: offloads on (TSO4 super-frames cut in the addon, checksums completed, received TCP segments coalesced)`);
    else log.warn({ offload: tap.offload }, `TAP ${tap.name}: offloads refused (${tap.offload.reason}); running without them`);
  }
  return tap;
}

/** The UDP port on `io`'s path, and the path it runs (batch falls back to dgram without CAP_NET_RAW). */
export async function openNet(o: { io: IoMode; port: number; publicIp: string; sockBuf: number; offload: boolean }, log: Logger): Promise<{ port: DatagramPort; io: IoMode }> {
  if (o.io === 'batch') {
    try {
      // An IPv6 public IP binds the receive socket to '::' (AF_INET6, IPV6_V6ONLY): the underlay is one family.
      const port = BatchUdpPort.open({ bindIp: o.publicIp.includes(':') ? '::' : '0.0.0.0', port: o.port, srcIp: o.publicIp, rcvbuf: o.sockBuf, sndbuf: o.sockBuf, offload: o.offload });
      if (o.offload) logUdpOffloads(port, log);
      return { port, io: 'batch' };
    } catch (err) {
      // Without UDP GSO, batch sends through a raw socket, which needs CAP_NET_RAW: the portable path still works.
      if (!(err instanceof SystemError) || err.errno !== 'EPERM' || o.publicIp.includes(':')) throw err;
      log.warn({ err }, `--io batch: ${err.message}; falling back to --io dgram (Node's sockets)`);
    }
  }
  return { port: await DgramUdpPort.open({ bindIp: '0.0.0.0', port: o.port }), io: 'dgram' };
}

/** Clean-up steps run last-in first-out; a failing step is logged and the rest still run. */
export class Cleanups {
  private readonly steps: (() => Promise<void> | void)[] = [];

  constructor(private readonly log: Logger) {}

  push(step: () => Promise<void> | void): void {
    this.steps.push(step);
  }

  async undo(): Promise<void> {
    for (const f of this.steps.splice(0).reverse()) {
      try { await f(); } catch (err) { this.log.warn({ err }, 'clean-up step failed'); }
    }
  }
}

/**
 * The UDP port, the pcap recorder around both when asked, and what a port's
 * failure does: the part of bringing a node up that both modes share.
 */
export async function openNodePorts(rawTap: TapPort, o: { io: IoMode; port: number; publicIp: string; sockBuf: number; offload: boolean; pcap: string | undefined; pcapUnderlay?: boolean; underlayName?: string },
  log: Logger, cleanups: Cleanups, fail: (e: Error) => void): Promise<{ rawNet: DatagramPort; io: IoMode; tap: FramePort; net: DatagramPort }> {
  const { port: rawNet, io } = await openNet(o, log);
  cleanups.push(() => rawNet.close());
  const { tap, net } = recordPorts(o.pcap, rawTap, rawNet, { localIp: o.publicIp, localPort: o.port }, log, (f) => cleanups.push(f),
    { io, underlayName: o.underlayName, real: o.pcapUnderlay === true });
  watchPortErrors(tap, net, rawTap.name, o.port, log, fail);
  return { rawNet, io, tap, net };
}

/**
 * How `net` sends, for the encap trace's outer headers (switch/trace-outer.ts):
 * the batch port's raw socket or GSO pool (native/udp.cc sets
 * IP_PMTUDISC_DONT on both, and binds them to the public IP), or Node's
 * socket (bound to 0.0.0.0, the kernel's default IP_MTU_DISCOVER mode:
 * IP_PMTUDISC_WANT, or DONT when net.ipv4.ip_no_pmtu_disc is set). No socket
 * of vxtap sets IP_TTL.
 */
export function sendPathOf(net: DatagramPort, publicIp: string): SendPath {
  if (net instanceof BatchUdpPort) {
    const ports = net.sourcePorts;
    return net.rawFd >= 0
      ? { kind: 'raw', pmtudisc: 'dont', ttl: null, checksum: 'zero', srcPorts: { min: SOURCE_PORT_MIN, count: 65536 - SOURCE_PORT_MIN }, srcIp: publicIp === '0.0.0.0' ? null : publicIp }
      : { kind: 'gso-pool', pmtudisc: 'dont', ttl: null, checksum: 'kernel', srcPorts: ports === undefined ? null : { min: ports.min, count: ports.count }, srcIp: publicIp };
  }
  let noPmtuDisc = 0;
  try {
    noPmtuDisc = Number(readFileSync('/proc/sys/net/ipv4/ip_no_pmtu_disc', 'utf8').trim()) || 0;
  } catch {
    // Not readable: the kernel's own default (0).
  }
  return { kind: 'dgram', pmtudisc: noPmtuDisc === 0 ? 'want' : 'dont', ttl: null, checksum: 'kernel', srcPorts: null, srcIp: null };
}

/** --trace's tracer (on stdout), or null without --trace. With `at.net`, the encap trace shows the outer headers the kernel will send. */
export function nodeTracer(trace: { format: TraceFormat; filter: string | null } | undefined, at: { vni: number; port: number; publicIp: string; net?: DatagramPort },
  describePeer: (ip: number) => string | null, log: Logger): Tracer | null {
  if (trace === undefined) return null;
  let outer: OuterContext | null = null;
  if (at.net !== undefined) {
    // Looked up off the per-frame path, only because tracing is on (control/underlay-route.ts).
    const underlay = new UnderlayRoutes();
    outer = { sendPath: sendPathOf(at.net, at.publicIp), underlay: (vtep) => underlay.facts(vtep) };
  }
  return createTracer({
    outer,
    out: process.stdout,
    format: trace.format,
    filter: trace.filter,
    vni: at.vni,
    port: at.port,
    localIp: at.publicIp,
    describePeer,
    onError: (err) => log.warn({ err }, `trace output failed: ${err.message}; tracing stopped, forwarding goes on`),
  });
}

/**
 * With --pcap, both ports wrapped by one recorder (closed by a clean-up
 * step); else the ports themselves. The file's interface 1 is the underlay
 * interface (`underlay.underlayName`, or 'underlay' when not known); with
 * `underlay.real` (--pcap-underlay) an AF_PACKET capture on it writes the
 * real frames and the UDP port is not wrapped.
 */
export function recordPorts(pcap: string | undefined, tap: FramePort, net: DatagramPort, local: { localIp: string; localPort: number },
  log: Logger, onClose: (step: () => void) => void,
  underlay: { io?: IoMode; underlayName?: string | undefined; real?: boolean } = {}): { tap: FramePort; net: DatagramPort } {
  if (pcap === undefined) return { tap, net };
  const ifname = underlay.underlayName ?? 'underlay';
  const facts = localUnderlayFacts(ifname, underlay.io ?? 'batch');
  const description = underlay.real === true
    ? `AF_PACKET capture on ${ifname} of UDP port ${local.localPort}, both directions: the real frames`
    : socketDescription(vtepKey(local.localIp), local.localPort);
  // Rebuilt packets get the real outer MACs once the route and neighbour
  // lookups (off the frame path) know them; until then the comment says unknown.
  // Over IPv6 (issue #13) those lookups are IPv4 only: placeholder MACs.
  const routes = underlay.real === true || local.localIp.includes(':') ? null : new UnderlayRoutes();
  const rec = PcapRecorder.open(pcap, {
    tapName: tap.name,
    underlay: { ...facts, description, ...(routes !== null ? { outerMacs: outerMacLookup(routes) } : {}) },
    onError: (err) => log.error({ err }, `--pcap ${pcap}: ${err.message}; recording stopped, forwarding goes on`),
  });
  onClose(() => rec.close());
  if (routes !== null) onClose(() => { void routes.close(); });
  if (underlay.real === true) {
    let cap: UnderlayCapture;
    try {
      cap = UnderlayCapture.open(ifname, local.localPort, rec, {
        onError: (err, fatal) => log.warn({ err }, `--pcap-underlay on ${ifname}: ${err.message}${fatal ? '; the underlay capture stopped, forwarding goes on' : ''}`),
      });
    } catch (err) {
      rec.close();
      throw err;
    }
    onClose(() => {
      cap.close();
      // The file must not pass for the whole wire when it is not.
      if (cap.dropped > 0) log.warn({ pcap, dropped: cap.dropped }, `--pcap-underlay: the kernel dropped ${cap.dropped} frame(s) before vxtap read them (a full capture queue): ${pcap} is missing them`);
    });
    log.info({ pcap, underlay: ifname }, `recording the TAP's frames and the real underlay frames on ${ifname} (UDP port ${local.localPort}) to ${pcap}`);
    return { tap: new PcapFramePort(tap, rec), net };
  }
  log.info({ pcap }, `recording both sides of the switch to ${pcap} (underlay packets rebuilt from the socket's addresses)`);
  return { tap: new PcapFramePort(tap, rec), net: new PcapDatagramPort(net, rec, local) };
}

/** A port that stops reading for good stops the node; a passing error is a warning. */
export function watchPortErrors(tap: FramePort, net: DatagramPort, tapName: string, udpPort: number, log: Logger, fail: (e: Error) => void): void {
  const portError = (port: string) => (err: Error, fatal: boolean): void => {
    if (fatal) {
      log.error({ err, port }, `${port}: ${err.message}: it no longer reads; stopping`);
      fail(err);
    } else {
      log.warn({ err, port }, `${port}: ${err.message}`);
    }
  };
  tap.onError = portError(`TAP ${tapName}`);
  net.onError = portError(`UDP port ${udpPort}`);
}

/** The crossings of both ports, and frames moved per crossing over all of them. */
export function crossings(tap: CallCounts, udp: CallCounts): Record<string, number | CallCounts> {
  const calls = tap.rxCalls + tap.txCalls + udp.rxCalls + udp.txCalls;
  const frames = tap.rxFrames + tap.txFrames + udp.rxFrames + udp.txFrames;
  return { tap: { ...tap }, udp: { ...udp }, calls, frames, framesPerCall: calls === 0 ? 0 : Math.round((frames / calls) * 100) / 100 };
}

/** The ports' part of a node's stats (`vxtap stats`, the SIGUSR1 line). */
export function portStats(tap: TapPort, net: DatagramPort): Record<string, unknown> {
  return {
    tapPort: { ...tap.stats },
    tap: { offload: tap.offload },
    ...(net instanceof BatchUdpPort ? { udp: { offload: net.offload, sourcePorts: net.sourcePorts ?? null } } : {}),
    udpPort: { ...net.stats },
    // JS <-> native crossings: how many frames each call moved (what batching buys).
    crossings: crossings(tap.calls, net.calls),
  };
}

/** One line for what the UDP offloads came to: info when both are on, a warning naming each refused one. */
function logUdpOffloads(port: BatchUdpPort, log: Logger): void {
  const { gso, gro } = port.offload;
  const ports = port.sourcePorts;
  const gsoText = gso.enabled && ports !== undefined ? `UDP GSO on (source ports ${ports.min}-${ports.min + ports.count - 1})` : `UDP GSO off (${gso.reason})`;
  const groText = gro.enabled ? 'UDP GRO on' : `UDP GRO off (${gro.reason})`;
  if (gso.enabled && gro.enabled) log.info({ offload: port.offload }, `${gsoText}, ${groText}`);
  else log.warn({ offload: port.offload }, `${gsoText}, ${groText}; the rest runs without them`);
}
