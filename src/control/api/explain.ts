/**
 * The daemon's side of `vxtap explain` (issue #12): a made-up frame through
 * the data plane's own pipeline in a dry run (switch/dry-run.ts), then every
 * table entry the decision used, with where it came from (control/origin.ts):
 * the etcd key with its revisions and its lease's TTL asked of etcd now, the
 * static file's line, or for a learned L2 entry the VTEP and its age. For an
 * encapsulation it adds what the peer will check when it decapsulates.
 */
import { readFileSync } from 'node:fs';
import * as arp from '../../wire/arp';
import * as ethernet from '../../wire/ethernet';
import * as ipv4 from '../../wire/ipv4';
import { cidrContains, formatIpv4, macKeyFromString, macStringFromKey, parseCidr, parseIpv4 } from '../../wire/addr';
import { vtepKey } from '../../io/vtep-key';
import { DROPS } from '../../switch/drops';
import { DryRun, MAX_FRAME } from '../../switch/dry-run';
import type { Pipeline } from '../../switch/pipeline';
import type { Fdb } from '../../switch/fdb';
import type { TraceRecord } from '../../switch/trace-record';
import type { Lookup } from '../../switch/trace-hook';
import { lineOfEntry } from '../file-lines';
import { describeOrigin, type EtcdKeyNow, type EtcdProbe, type Origin } from '../origin';
import type { Peer } from '../peers';
import type { Vtep } from '../l2-network';
import { CONTROL_ERR, ControlError } from './protocol';

/** `explain`'s request fields (protocol.ts): the frame in hex, and for the network side the datagram's source. */
export interface ExplainRequest {
  side: 'tap' | 'net';
  frame: Buffer;
  /** Network side: the sender's IPv4 and UDP port. */
  from?: { ip: string; port: number };
}

/** One table entry an explanation used, and where it came from. */
export interface ExplainSource {
  /** The lookup it belongs to (an index into trace.lookups). */
  lookup: number;
  /** What the entry is, e.g. "FDB 02:76:c0:a8:5a:02 -> 192.168.90.2:4789". */
  entry: string;
  /** etcd / file / learned / none (nothing names it: e.g. a table filled by hand in a test). */
  kind: 'etcd' | 'file' | 'learned' | 'none';
  origin: Origin | null;
  /** For etcd: the key as etcd holds it now, with its lease's TTL (null: the key is gone; absent: etcd was not asked). */
  etcd?: EtcdKeyNow | null;
  /** For learned entries: from which VTEP, how long ago. */
  learned?: { vtep: string; ageSeconds: number };
  /** The line to print. */
  text: string;
}

/** `explain`'s answer. */
export interface ExplainData {
  side: 'tap' | 'net';
  mode: 'routed' | 'l2';
  /** The frame as the trace would show it: layers, lookups (hit or miss), and the decision in `reason`. */
  trace: TraceRecord;
  /** encap, flood, arp-reply, decap or drop. */
  verdict: 'encap' | 'flood' | 'arp-reply' | 'decap' | 'drop';
  /** The drop's name (drops.ts) and what it means, or null. */
  drop: { name: string; explanation: string } | null;
  /** For an ARP answer: the reply's bytes in hex. */
  replyHex: string | null;
  sources: ExplainSource[];
  /** For an encapsulation: what the receiving VTEP checks before it delivers the frame. */
  peerChecks: string[];
  /** Nothing was sent, no counter moved, no table changed. */
  dryRun: true;
}

/** What the explainer reads of a running node. */
export interface ExplainContext {
  readonly dry: DryRun;
  readonly fdb: Fdb;
  readonly mode: 'routed' | 'l2';
  readonly vni: number;
  readonly port: number;
  readonly publicIp: string;
  readonly vtepMac: string;
  /** This host's subnet (routed mode), as it is now. */
  subnet(): string | null;
  readonly peers: () => readonly Peer[];
  readonly vteps?: () => readonly Vtep[];
  /** The L2 ARP suppression table. */
  readonly l2Arp?: () => readonly { ip: string; mac: string; kind: 'static' | 'learned'; updatedAt: number }[];
  readonly etcd?: EtcdProbe | undefined;
  readonly now?: () => number;
}

/** Decodes `explain`'s fields; throws ControlError(BAD_REQUEST) naming the problem. */
export function explainRequest(fields: Record<string, unknown>): ExplainRequest {
  const bad = (msg: string): never => { throw new ControlError(CONTROL_ERR.BAD_REQUEST, `explain: ${msg}`); };
  const side = fields['side'];
  if (side !== 'tap' && side !== 'net') bad('"side" must be "tap" or "net"');
  const hex = fields['frame'];
  if (typeof hex !== 'string' || !/^([0-9a-fA-F]{2})+$/.test(hex)) bad('"frame" must be the frame in hex (an even number of hex digits)');
  const frame = Buffer.from(hex as string, 'hex');
  // The dry run's one slot holds this much: longer is the caller's mistake, not the daemon's failure.
  if (frame.length > MAX_FRAME) bad(`"frame" is ${frame.length} bytes: the limit is ${MAX_FRAME} (a 9216-byte jumbo frame and the VXLAN header)`);
  const req: ExplainRequest = { side: side as 'tap' | 'net', frame };
  const from = fields['from'];
  if (side === 'net') {
    if (typeof from !== 'string') bad('the network side needs "from": "<ip>:<port>" (the datagram\'s source)');
    const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(from as string);
    if (m === null || !/^\d+\.\d+\.\d+\.\d+$/.test(m[1]!)) return bad(`"from" ${JSON.stringify(from)} is not <ip>[:<port>]`);
    try { parseIpv4(m[1]!); } catch { bad(`"from" ${JSON.stringify(from)}: not an IPv4 address`); }
    const port = m[2] === undefined ? 4789 : Number(m[2]);
    if (port < 1 || port > 65535) bad(`"from" port ${port} is outside 1..65535`);
    req.from = { ip: m[1]!, port };
  }
  return req;
}

export async function explain(ctx: ExplainContext, req: ExplainRequest): Promise<ExplainData> {
  const from = req.from === undefined ? 0 : parseIpv4(req.from.ip);
  const { frame, record } = ctx.dry.run(req.side, req.frame, from, req.from?.port ?? 0);
  const drop = record.drop === null ? null : { name: record.drop, explanation: DROPS[frame.drop]?.explanation ?? '' };
  const verdict = frame.action === 'encap' && frame.flood !== null ? 'flood' : frame.action;
  const sources = await Promise.all(frame.lookups.flatMap((l, i) => sourcesOf(ctx, l, i)).map((s) => withEtcd(ctx, s)));
  return {
    side: req.side,
    mode: ctx.mode,
    trace: record,
    verdict,
    drop,
    replyHex: frame.reply === null ? null : frame.reply.toString('hex'),
    sources,
    peerChecks: frame.action === 'encap' ? peerChecks(ctx, frame.data) : [],
    dryRun: true,
  };
}

/** A source before etcd or the file was asked again: `ip` is the record's publicIp (its identity in a static file). */
type Pending = ExplainSource & { ip?: string };

/**
 * Asks the source again, now: etcd for the key's revisions and its lease's
 * TTL; a static file for the line its entry is on (an edit elsewhere in the
 * file moves it without an event). The text says what was found.
 */
async function withEtcd(ctx: ExplainContext, p: Pending): Promise<ExplainSource> {
  const { ip, ...s } = p;
  if (s.origin?.kind === 'file') {
    const o = s.origin;
    let line: number | null = null;
    try {
      line = ip === undefined ? null : lineOfEntry(readFileSync(o.path, 'utf8'), 'peers', 'publicIp', ip);
    } catch { /* unreadable now: keep the line it was read from */ }
    if (line === null) return { ...s, text: `${s.entry}: from ${o.path} line ${o.line} (as read; the entry is not in the file now)` };
    return { ...s, origin: { ...o, line }, text: `${s.entry}: from ${o.path} line ${line}` };
  }
  if (s.origin?.kind !== 'etcd') return s;
  if (ctx.etcd === undefined) return { ...s, text: `${s.entry}: from ${describeOrigin(s.origin)}` };
  try {
    const now = await ctx.etcd.keyNow(s.origin.key);
    return { ...s, etcd: now, text: `${s.entry}: from ${describeOrigin(s.origin, now)}` };
  } catch (err) {
    return { ...s, text: `${s.entry}: from ${describeOrigin(s.origin)} (etcd did not answer now: ${(err as Error).message})` };
  }
}

function fromOrigin(lookup: number, entry: string, origin: Origin | undefined, ip?: string): Pending {
  if (origin === undefined) return { lookup, entry, kind: 'none', origin: null, text: `${entry}: no source recorded` };
  return { lookup, entry, kind: origin.kind, origin, text: `${entry}: from ${describeOrigin(origin)}`, ...(ip !== undefined ? { ip } : {}) };
}

function peerByVtep(ctx: ExplainContext, vtep: number): Peer | undefined {
  return ctx.peers().find((p) => vtepKey(p.publicIp) === vtep);
}

function vtepByIp(ctx: ExplainContext, vtep: number): Vtep | undefined {
  return ctx.vteps?.().find((x) => vtepKey(x.publicIp) === vtep);
}

/** The source of an FDB entry (static: the peer or VTEP that made it; learned: the frame's VTEP and age). */
function fdbSource(ctx: ExplainContext, lookup: number, mac: number): Pending | null {
  const e = ctx.fdb.lookup(mac);
  if (e === undefined) return null;
  const entry = `FDB ${macStringFromKey(mac)} -> ${formatIpv4(e.vtep)}:${e.port} (${e.kind})`;
  if (e.kind === 'learned') {
    const age = Math.max(0, Math.floor(((ctx.now ?? Date.now)() - e.updatedAt) / 1000));
    const vtep = formatIpv4(e.vtep);
    return { lookup, entry, kind: 'learned', origin: null, learned: { vtep, ageSeconds: age }, text: `${entry}: learned from a frame from VTEP ${vtep}, ${age} s ago` };
  }
  const owner = ctx.mode === 'l2' ? vtepByIp(ctx, e.vtep) : peerByVtep(ctx, e.vtep);
  return fromOrigin(lookup, entry, owner?.source, owner?.publicIp);
}

function sourcesOf(ctx: ExplainContext, l: Lookup, i: number): Pending[] {
  switch (l.table) {
    case 'fdb': {
      const s = l.entry === null ? null : fdbSource(ctx, i, l.mac);
      return s === null ? [] : [s];
    }
    case 'arp': {
      if (l.mac === null) return [];
      const owner = ctx.peers().find((p) => cidrContains(parseCidr(p.subnet), l.ip));
      return [fromOrigin(i, `ARP ${formatIpv4(l.ip)} -> ${macStringFromKey(l.mac)} (lease ${owner?.subnet ?? '?'})`, owner?.source, owner?.publicIp)];
    }
    case 'vtep': {
      if (!l.known) return [];
      if (ctx.mode === 'l2') {
        const v = vtepByIp(ctx, l.addr);
        if (v !== undefined) return [fromOrigin(i, `flood list ${v.publicIp}:${v.port}`, v.source, v.publicIp)];
        return [];
      }
      const p = peerByVtep(ctx, l.addr);
      return p === undefined ? [] : [fromOrigin(i, `VTEP ${p.publicIp} (lease ${p.subnet})`, p.source, p.publicIp)];
    }
    case 'peer': {
      if (l.row === null) return [];
      const p = peerByVtep(ctx, l.addr);
      return p === undefined ? [] : [fromOrigin(i, `peer row ${p.publicIp}: MAC ${p.vtepMac}, subnet ${p.subnet}`, p.source, p.publicIp)];
    }
    case 'flood':
      return l.vteps.map((vt) => {
        const v = vtepByIp(ctx, vt);
        return fromOrigin(i, `flood list ${formatIpv4(vt)}${v === undefined ? '' : `:${v.port}`}`, v?.source, v?.publicIp);
      });
    case 'l2arp': {
      if (l.mac === null) return [];
      const row = ctx.l2Arp?.().find((r) => r.ip === formatIpv4(l.ip));
      const entry = `ARP suppression ${formatIpv4(l.ip)} -> ${macStringFromKey(l.mac)}`;
      const out: Pending[] = [];
      if (row !== undefined && row.kind === 'learned') {
        const age = Math.max(0, Math.floor(((ctx.now ?? Date.now)() - row.updatedAt) / 1000));
        out.push({ lookup: i, entry, kind: 'learned', origin: null, text: `${entry}: snooped from an ARP reply, ${age} s ago` });
      } else if (row !== undefined) {
        const e = ctx.fdb.lookup(l.mac);
        const v = e === undefined ? undefined : vtepByIp(ctx, e.vtep);
        out.push(fromOrigin(i, entry, v?.source, v?.publicIp));
      }
      const f = fdbSource(ctx, i, l.mac);
      if (f !== null) out.push(f);
      return out;
    }
    case 'learn': {
      // The entry the frame would refresh, move or conflict with (a new MAC has none yet).
      const f = fdbSource(ctx, i, l.mac);
      return f === null ? [] : [f];
    }
    default:
      return [];
  }
}

/**
 * What the receiving VTEP checks on decap, for a frame we would encapsulate
 * (its pipeline: the same stages as ours, from the network side).
 */
export function peerChecks(ctx: ExplainContext, frame: Buffer): string[] {
  const out = [`VNI ${ctx.vni}: the peer's must be the same, or it drops the datagram (vxlan-unknown-vni)`];
  if (ctx.mode === 'l2') {
    out.push(`source VTEP ${ctx.publicIp}: the peer accepts it only from a VTEP in its flood list (this host's key in etcd, or its line in the peer's file), or it drops it (unknown-vtep)`);
    if (frame.length >= ethernet.HEADER_LEN) {
      const src = ethernet.srcKey(frame, 0);
      const bad = (frame[ethernet.field.SRC]! & 1) !== 0 || src === 0;
      out.push(bad
        ? `inner source MAC ${macStringFromKey(src)} is multicast or zero: the peer drops it (l2-bad-source)`
        : `inner source MAC ${macStringFromKey(src)}: the peer learns it behind ${ctx.publicIp}, unless a static entry pins it behind another VTEP (l2-static-mac)`);
    }
    return out;
  }
  const subnet = ctx.subnet();
  out.push(`source VTEP ${ctx.publicIp}: the peer accepts it only if its FDB points at this host, i.e. it has installed this host's lease${subnet === null ? '' : ` ${subnet}`} (unknown-vtep otherwise)`);
  if (frame.length < ethernet.HEADER_LEN) return out;
  const srcMac = macStringFromKey(ethernet.srcKey(frame, 0));
  const macOk = ethernet.srcKey(frame, 0) === macKeyFromString(ctx.vtepMac);
  out.push(`inner source MAC ${srcMac} ${macOk ? 'is' : 'is NOT'} this host's VTEP MAC ${ctx.vtepMac}${macOk ? '' : ': the peer\'s inner source check drops it (inner-spoof)'}`);
  if (subnet === null) return out;
  const c = parseCidr(subnet);
  const l3 = ethernet.l3Offset(frame, 0);
  const type = ethernet.etherType(frame, 0);
  let addr: number | null = null;
  let what = '';
  if (type === ethernet.ETHERTYPE_IPV4 && frame.length >= l3 + ipv4.HEADER_LEN) {
    addr = ipv4.src(frame, l3);
    what = 'inner IPv4 source';
  } else if (type === ethernet.ETHERTYPE_ARP && arp.isEthIpv4(frame, l3, frame.length - l3)) {
    addr = arp.senderIp(frame, l3);
    what = 'ARP sender';
  }
  if (addr !== null) {
    const ok = cidrContains(c, addr);
    out.push(`${what} ${formatIpv4(addr)} ${ok ? 'is' : 'is NOT'} in this host's subnet ${subnet}${ok ? '' : ': the peer\'s inner source check drops it (inner-spoof)'}`);
  }
  return out;
}

/** A running node's `explain` (cli/node.ts, node-l2.ts): a dry run over its switch's pipeline and tables. */
export function nodeExplainer(pipeline: Pipeline, o: Omit<ExplainContext, 'dry' | 'fdb'>, describePeer: ((ip: number) => string | null) | null): (req: ExplainRequest) => Promise<ExplainData> {
  const dry = new DryRun(pipeline, { vni: o.vni, port: o.port, localIp: vtepKey(o.publicIp), describePeer });
  const ctx: ExplainContext = { ...o, dry, fdb: pipeline.fdb };
  return (req) => explain(ctx, req);
}
