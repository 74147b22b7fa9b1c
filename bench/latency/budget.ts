/**
 * The latency budget (issue #14 part 1): one ping's round trip through two
 * vxtap daemons, split into hops. Each frame is followed by its ICMP echo id
 * and sequence through four captures (tcpdump on a's TAP, a's eth0, b's eth0,
 * b's TAP) and the two daemons' stamp files (native/stamps.h), all on
 * CLOCK_REALTIME, so a hop is the difference of two points on one clock.
 *
 * A hop is "stamp" when both ends are the addon's stamps in one process,
 * "pcap" when both are AF_PACKET timestamps, "pcap→stamp" / "stamp→pcap"
 * when one end is each (same clock, two sources), and "inferred" when it is
 * what is left of a measured whole after measured parts are taken away
 * (ping's own socket path: ping's RTT minus the TAP-to-TAP time).
 *
 * Pure functions: bench/latency/main.ts reads the files and prints.
 */
import { icmpEcho, type PcapRecord } from './pcap';
import { Point, Side, type Stamp } from './stamps';

/** Nearest-rank percentile (as bench/lab/run.sh): the smallest value with at least q of the values at or below it. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

export interface Summary { n: number; p50: number; p99: number; p999: number }
export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 0.5), p99: percentile(s, 0.99), p999: percentile(s, 0.999) };
}

/** `ping` output: RTT in µs by icmp_seq. */
export function parsePing(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const m of text.matchAll(/icmp_seq=(\d+)\b.*?time=([0-9.]+) ms/g)) out.set(Number(m[1]), Number(m[2]) * 1000);
  return out;
}

/** When an echo (type, id, seq) was first seen, per capture. */
export type Seen = Map<string, bigint>;
const key = (type: number, id: number, seq: number): string => `${type}:${id}:${seq}`;

export function seenIn(records: readonly PcapRecord[]): Seen {
  const out: Seen = new Map();
  for (const r of records) {
    const e = icmpEcho(r.data);
    if (e === null) continue;
    const k = key(e.type, e.id, e.seq);
    if (!out.has(k)) out.set(k, r.ns);
  }
  return out;
}

/** One daemon's handling of one frame: the stamps of the wake-up that read it. */
export interface Handling {
  wake?: bigint; read: bigint; jsCall?: bigint; jsEnter?: bigint; sendEnter?: bigint; sendExit?: bigint; jsExit?: bigint; jsReturn?: bigint;
  /** Frames in the batch that carried it. */
  frames: number;
}

/**
 * The daemon's stamps by the echo the batch's first frame carried (read on
 * `side`): the wake-up before the read, and after it, up to the next wake-up
 * or read, the crossing into JS and the send to the other side.
 */
export function handlings(stamps: readonly Stamp[], side: Side): Map<string, Handling> {
  const out = new Map<string, Handling>();
  const other = side === Side.Tap ? Side.Udp : Side.Tap;
  for (let i = 0; i < stamps.length; i++) {
    const r = stamps[i]!;
    if (r.point !== Point.ReadDone || r.side !== side || r.icmpType === 255) continue;
    const k = key(r.icmpType, r.icmpId, r.icmpSeq);
    if (out.has(k)) continue;
    const h: Handling = { read: r.ns, frames: r.frames };
    for (let j = i - 1; j >= 0 && j >= i - 4; j--) {
      const w = stamps[j]!;
      if (w.point === Point.PollWake && w.side === side) { h.wake = w.ns; break; }
      if (w.point === Point.ReadDone) break;
    }
    for (let j = i + 1; j < stamps.length; j++) {
      const s = stamps[j]!;
      if (s.point === Point.PollWake || s.point === Point.ReadDone) break;
      if (s.point === Point.JsCall && s.side === side) h.jsCall ??= s.ns;
      else if (s.point === Point.JsEnter && s.side === side) h.jsEnter ??= s.ns;
      else if (s.point === Point.SendEnter && s.side === other) h.sendEnter ??= s.ns;
      else if (s.point === Point.SendExit && s.side === other) h.sendExit ??= s.ns;
      else if (s.point === Point.JsExit && s.side === side) h.jsExit ??= s.ns;
      else if (s.point === Point.JsReturn && s.side === side) { h.jsReturn ??= s.ns; break; }
    }
    out.set(k, h);
  }
  return out;
}

export interface Inputs {
  tapA: PcapRecord[]; ethA: PcapRecord[]; ethB: PcapRecord[]; tapB: PcapRecord[];
  stampsA: Stamp[]; stampsB: Stamp[];
}

/** How a hop's two ends were taken; 'ping': ping's own measurement, not a difference. */
export type How = 'stamp' | 'pcap' | 'pcap→stamp' | 'stamp→pcap' | 'inferred' | 'ping';

/** A hop: where it starts and ends, and how its ends were taken. */
export interface HopDef { leg: 'a→b' | 'at b' | 'b→a' | 'at a'; name: string; how: How; of: (f: FramePoints) => number | undefined }

/** Every point of one round trip (one echo request and its reply), ns; absent where it was not seen. */
export interface FramePoints {
  rttUs?: number;
  reqTapA?: bigint; reqA?: Handling; reqEthA?: bigint; reqEthB?: bigint; reqB?: Handling; reqTapB?: bigint;
  repTapB?: bigint; repB?: Handling; repEthB?: bigint; repEthA?: bigint; repA?: Handling; repTapA?: bigint;
}

export interface Index { tapA: Seen; ethA: Seen; ethB: Seen; tapB: Seen; aTap: Map<string, Handling>; aUdp: Map<string, Handling>; bTap: Map<string, Handling>; bUdp: Map<string, Handling> }

export function index(i: Inputs): Index {
  return {
    tapA: seenIn(i.tapA), ethA: seenIn(i.ethA), ethB: seenIn(i.ethB), tapB: seenIn(i.tapB),
    aTap: handlings(i.stampsA, Side.Tap), aUdp: handlings(i.stampsA, Side.Udp),
    bTap: handlings(i.stampsB, Side.Tap), bUdp: handlings(i.stampsB, Side.Udp),
  };
}

/** The points of echo (id, seq); rttUs from ping's own output. */
export function framePoints(x: Index, id: number, seq: number, rttUs: number | undefined): FramePoints {
  const q = key(8, id, seq), p = key(0, id, seq);
  const f: FramePoints = {
    reqTapA: x.tapA.get(q), reqA: x.aTap.get(q), reqEthA: x.ethA.get(q), reqEthB: x.ethB.get(q), reqB: x.bUdp.get(q), reqTapB: x.tapB.get(q),
    repTapB: x.tapB.get(p), repB: x.bTap.get(p), repEthB: x.ethB.get(p), repEthA: x.ethA.get(p), repA: x.aUdp.get(p), repTapA: x.tapA.get(p),
  };
  if (rttUs !== undefined) f.rttUs = rttUs;
  return f;
}

const us = (from: bigint | undefined, to: bigint | undefined): number | undefined =>
  from === undefined || to === undefined ? undefined : Number(to - from) / 1000;

/** One direction's hops: a frame from `src`'s TAP through `src`, the underlay, `dst`, to `dst`'s TAP. */
function legHops(leg: 'a→b' | 'b→a', src: string, dst: string, g: {
  tapIn: (f: FramePoints) => bigint | undefined; s: (f: FramePoints) => Handling | undefined; ethOut: (f: FramePoints) => bigint | undefined;
  ethIn: (f: FramePoints) => bigint | undefined; d: (f: FramePoints) => Handling | undefined; tapOut: (f: FramePoints) => bigint | undefined;
}): HopDef[] {
  return [
    { leg, name: `${src}: TAP queued (tcpdump) → poll wake-up`, how: 'pcap→stamp', of: (f) => us(g.tapIn(f), g.s(f)?.wake) },
    { leg, name: `${src}: TAP read syscall`, how: 'stamp', of: (f) => us(g.s(f)?.wake, g.s(f)?.read) },
    { leg, name: `${src}: read → JS batch handler (crossing)`, how: 'stamp', of: (f) => us(g.s(f)?.read, g.s(f)?.jsEnter) },
    { leg, name: `${src}: decision (encap) → send call`, how: 'stamp', of: (f) => us(g.s(f)?.jsEnter, g.s(f)?.sendEnter) },
    { leg, name: `${src}: UDP send call (whole)`, how: 'stamp', of: (f) => us(g.s(f)?.sendEnter, g.s(f)?.sendExit) },
    { leg, name: `${src}: send call → datagram on ${src}'s eth0`, how: 'stamp→pcap', of: (f) => us(g.s(f)?.sendEnter, g.ethOut(f)) },
    { leg, name: `underlay: ${src}'s eth0 → ${dst}'s eth0 (veth)`, how: 'pcap', of: (f) => us(g.ethOut(f), g.ethIn(f)) },
    { leg, name: `${dst}: eth0 (skb stamp, = SO_TIMESTAMPNS) → poll wake-up`, how: 'pcap→stamp', of: (f) => us(g.ethIn(f), g.d(f)?.wake) },
    { leg, name: `${dst}: UDP recvmmsg syscall`, how: 'stamp', of: (f) => us(g.d(f)?.wake, g.d(f)?.read) },
    { leg, name: `${dst}: read → JS batch handler (crossing)`, how: 'stamp', of: (f) => us(g.d(f)?.read, g.d(f)?.jsEnter) },
    { leg, name: `${dst}: decision (decap) → TAP write call`, how: 'stamp', of: (f) => us(g.d(f)?.jsEnter, g.d(f)?.sendEnter) },
    { leg, name: `${dst}: TAP write call (whole)`, how: 'stamp', of: (f) => us(g.d(f)?.sendEnter, g.d(f)?.sendExit) },
    { leg, name: `${dst}: write call → frame seen on ${dst}'s TAP`, how: 'stamp→pcap', of: (f) => us(g.d(f)?.sendEnter, g.tapOut(f)) },
    { leg, name: `${src}'s TAP → ${dst}'s TAP (the tunnel, one way)`, how: 'pcap', of: (f) => us(g.tapIn(f), g.tapOut(f)) },
  ];
}

/** The hops, in the order a round trip meets them. Off the critical path: what each daemon does after its send (JS returning). */
export const HOPS: HopDef[] = [
  ...legHops('a→b', 'a', 'b', { tapIn: (f) => f.reqTapA, s: (f) => f.reqA, ethOut: (f) => f.reqEthA, ethIn: (f) => f.reqEthB, d: (f) => f.reqB, tapOut: (f) => f.reqTapB }),
  { leg: 'at b', name: 'b: the kernel answers the echo (TAP in → TAP out)', how: 'pcap', of: (f) => us(f.reqTapB, f.repTapB) },
  ...legHops('b→a', 'b', 'a', { tapIn: (f) => f.repTapB, s: (f) => f.repB, ethOut: (f) => f.repEthB, ethIn: (f) => f.repEthA, d: (f) => f.repA, tapOut: (f) => f.repTapA }),
  { leg: 'at a', name: 'a: TAP to TAP, the whole round trip outside ping', how: 'pcap', of: (f) => us(f.reqTapA, f.repTapA) },
  { leg: 'at a', name: 'a: ping\'s own socket path both ways (ping RTT − TAP to TAP)', how: 'inferred', of: (f) => (f.rttUs === undefined ? undefined : mapU(us(f.reqTapA, f.repTapA), (t) => f.rttUs! - t)) },
  { leg: 'at a', name: 'ping RTT (ping\'s own clock)', how: 'ping', of: (f) => f.rttUs },
  { leg: 'at a', name: 'off the path: a after its send (JS returns, microtasks)', how: 'stamp', of: (f) => us(f.reqA?.sendExit, f.reqA?.jsReturn) },
  { leg: 'at b', name: 'off the path: b after its TAP write (JS returns, microtasks)', how: 'stamp', of: (f) => us(f.reqB?.sendExit, f.reqB?.jsReturn) },
];

function mapU(v: number | undefined, fn: (v: number) => number): number | undefined {
  return v === undefined ? undefined : fn(v);
}

export interface HopResult { leg: string; name: string; how: How; stats: Summary }

/** Each hop's statistics over the frames where both of its ends were seen. */
export function budget(frames: readonly FramePoints[]): HopResult[] {
  return HOPS.map((h) => {
    const vals: number[] = [];
    for (const f of frames) {
      const v = h.of(f);
      if (v !== undefined && Number.isFinite(v)) vals.push(v);
    }
    return { leg: h.leg, name: h.name, how: h.how, stats: summarize(vals) };
  });
}
