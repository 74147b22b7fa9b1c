/**
 * The scene every pipeline benchmark plays in: one host of a flannel-style
 * overlay, seen from its TAP and its UDP socket.
 *
 *   this host   VTEP 192.168.90.1, TAP MAC 02:76:c0:a8:5a:01, lease 10.44.1.0/24
 *   peer h      VTEP 192.168.90.h, VTEP MAC 02:76:c0:a8:5a:hh, lease 10.44.h.0/24 (h = 2, 3, ...)
 *
 * As flannel sets it up: one FDB entry per peer (its VTEP MAC -> its VTEP
 * address, port 8472) and one ARP entry (10.44.h.0 -> its VTEP MAC). VNI 1.
 *
 * The batches are 128 frames (the switch's batch size), in slots sized as the
 * Switch sizes them for MTU 1500, with its 64-byte headroom:
 *
 *   from the TAP (encapMix):  116 TCP (3 in 4 full-sized data, 1 in 4 pure ACKs,
 *                             16 flows over 8 peers), 6 UDP, 2 ICMP echo: all
 *                             unicast to known MACs; 2 ARP requests for peers
 *                             (answered in place), 1 ARP request for an address
 *                             we do not hold (arp-miss), 1 IPv6 neighbour
 *                             solicitation (multicast: flood drop).
 *   from the network (decapMix): 122 good VXLAN datagrams from the 8 peers
 *                             (their TCP to our pods); 2 with a VNI not ours,
 *                             2 without the I flag, 1 from an unknown VTEP,
 *                             1 too short.
 *
 * Each mix comes with the counts it must produce: checkEncap / checkDecap
 * fail the run if the pipeline decides otherwise, so a benchmark never times
 * a path it does not claim to.
 */
import { Writable } from 'node:stream';
import { macKeyFromString, parseIpv4 } from '../../src/wire/addr';
import * as ethernet from '../../src/wire/ethernet';
import * as vxlan from '../../src/wire/vxlan';
import { FrameBatch, SendList } from '../../src/io/port';
import { ArpTable } from '../../src/switch/arp-table';
import { Counters, DROP_NAMES } from '../../src/switch/counters';
import { Fdb } from '../../src/switch/fdb';
import { PeerTable } from '../../src/switch/peer-table';
import { Pipeline } from '../../src/switch/pipeline';
import { DEFAULT_BATCH, SLOT_HEADROOM } from '../../src/switch/switch';
import { createTracer, type FrameTracer, type Tracer } from '../../src/switch/trace';
import {
  arpRequestFrame, batchOf, icmpEchoFrame, neighborSolicitationFrame, tcpFrame, udpFrame, vxlanDatagram, type From,
} from './frames';

export const VNI = 1;
export const VXLAN_PORT = vxlan.PORT_LINUX;
export const BATCH = DEFAULT_BATCH;
const MTU = 1500;
/** As Switch sizes a slot: headroom + the largest tagged frame + a VXLAN header, rounded up to 64. */
export const SLOT_SIZE = Math.ceil((SLOT_HEADROOM + MTU + ethernet.VLAN_HEADER_LEN + vxlan.HEADER_LEN) / 64) * 64;

export const LOCAL = { mac: '02:76:c0:a8:5a:01', vtep: '192.168.90.1', gw: '10.44.1.0' } as const;

export interface Peer {
  /** The host number: VTEP 192.168.90.h, lease 10.44.h.0/24. */
  h: number;
  mac: string;
  vtep: string;
  gw: string;
}

/** Peers h = 2 .. n + 1 (at most 250, so that every address stays an address). */
export function peers(n: number): Peer[] {
  if (n > 250) throw new RangeError(`at most 250 peers, not ${n}`);
  return Array.from({ length: n }, (_, i) => {
    const h = i + 2;
    return { h, mac: `02:76:c0:a8:5a:${h.toString(16).padStart(2, '0')}`, vtep: `192.168.90.${h}`, gw: `10.44.${h}.0` };
  });
}

export interface Host {
  fdb: Fdb;
  arp: ArpTable;
  counters: Counters;
  pipeline: Pipeline;
}

/** This host's tables, as flannel would fill them for `ps`, and a pipeline over them. */
/** innerSourceCheck: as `vxtap run` by default, a peer table filled as the installer fills it (switch/peer-table.ts). */
export function host(ps: readonly Peer[], writesUdpHeader: boolean, innerSourceCheck = false): Host {
  const fdb = new Fdb();
  const arp = new ArpTable();
  const counters = new Counters();
  const peers = new PeerTable();
  for (const p of ps) {
    fdb.set(macKeyFromString(p.mac), parseIpv4(p.vtep), VXLAN_PORT, 0);
    arp.set(parseIpv4(p.gw), macKeyFromString(p.mac));
    peers.set(parseIpv4(p.vtep), macKeyFromString(p.mac), parseIpv4(p.gw), 24);
  }
  const pipeline = new Pipeline({ vni: VNI, fdb, arp, counters, writesUdpHeader, peers: innerSourceCheck ? peers : null });
  return { fdb, arp, counters, pipeline };
}

/** "lease 10.44.2.0/24, host 192.168.90.2", as the CLI's tracer says it. */
export function describePeer(ps: readonly Peer[]): (ip: number) => string | null {
  return (ip) => {
    for (const p of ps) {
      if ((ip & 0xffffff00) >>> 0 === parseIpv4(p.gw) || ip === parseIpv4(p.vtep)) return `lease ${p.gw}/24, host ${p.vtep}`;
    }
    return null;
  };
}

// ---------------------------------------------------------------------------
// From the TAP

export interface EncapMix {
  batch: FrameBatch;
  /** The ARP requests the responder rewrites in place: their slots and their bytes, to put back before each run. */
  arpSlots: number[];
  arpBytes: Buffer[];
}

const ENCAP_UDP = new Set([10, 30, 50, 70, 90, 110]);
const ENCAP_ICMP = new Set([40, 80]);
const ENCAP_ARP_ANSWERED = new Set([31, 95]);
const ENCAP_ARP_MISS = 63;
const ENCAP_FLOOD = 127;

export function encapMix(ps: readonly Peer[]): EncapMix {
  const frames: Buffer[] = [];
  for (let i = 0; i < BATCH; i++) {
    const f = i % 16;
    const p = ps[f % ps.length]!;
    const flow = {
      dstMac: p.mac, srcMac: LOCAL.mac,
      srcIp: `10.44.1.${2 + (f % 5)}`, dstIp: `10.44.${p.h}.${10 + f}`,
      sport: 40000 + f, dport: f % 2 === 0 ? 5201 : 443,
    };
    if (ENCAP_ARP_ANSWERED.has(i)) frames.push(arpRequestFrame(LOCAL.mac, LOCAL.gw, p.gw));
    else if (i === ENCAP_ARP_MISS) frames.push(arpRequestFrame(LOCAL.mac, LOCAL.gw, '10.44.250.0'));
    else if (i === ENCAP_FLOOD) frames.push(neighborSolicitationFrame(LOCAL.mac, 'fe80::76:c0ff:fea8:5a01', 'fe80::76:c0ff:fea8:5a02'));
    else if (ENCAP_UDP.has(i)) frames.push(udpFrame({ ...flow, dport: 53 }, 40));
    else if (ENCAP_ICMP.has(i)) frames.push(icmpEchoFrame(flow, i));
    else frames.push(tcpFrame(flow, i % 4 === 3 ? 0 : 1448));
  }
  const arpSlots = [...ENCAP_ARP_ANSWERED];
  return { batch: batchOf(frames, SLOT_SIZE, SLOT_HEADROOM), arpSlots, arpBytes: arpSlots.map((i) => frames[i]!) };
}

/** Puts the ARP requests back: the responder turned them into replies in place. */
export function restoreArp(m: EncapMix): void {
  const slab = m.batch.slab;
  for (let k = 0; k < m.arpSlots.length; k++) slab.set(m.arpBytes[k]!, m.batch.frameStart(m.arpSlots[k]!));
}

/** What one encapMix batch must produce: 124 encapsulated, 2 answered, 1 arp-miss, 1 flood. */
export const ENCAP_EXPECTED = { encapFrames: 124, arpAnswered: 2, drops: { 'arp-miss': 1, flood: 1 } } as const;

// ---------------------------------------------------------------------------
// From the network

const DECAP_WRONG_VNI = new Set([20, 84]);
const DECAP_NO_I_FLAG = new Set([42, 106]);
const DECAP_UNKNOWN_VTEP = 64;
const DECAP_TOO_SHORT = 127;

export function decapMix(ps: readonly Peer[]): FrameBatch {
  const frames: Buffer[] = [];
  const from: From[] = [];
  for (let i = 0; i < BATCH; i++) {
    const f = i % 16;
    const p = ps[f % ps.length]!;
    const inner = tcpFrame({
      dstMac: LOCAL.mac, srcMac: p.mac,
      srcIp: `10.44.${p.h}.${10 + f}`, dstIp: `10.44.1.${2 + (f % 5)}`,
      sport: f % 2 === 0 ? 5201 : 443, dport: 40000 + f,
    }, i % 4 === 3 ? 0 : 1448);
    let addr = parseIpv4(p.vtep);
    let d: Buffer;
    if (DECAP_WRONG_VNI.has(i)) d = vxlanDatagram(VNI + 1, inner);
    else if (DECAP_NO_I_FLAG.has(i)) d = vxlanDatagram(VNI, inner, 0);
    else if (i === DECAP_TOO_SHORT) d = vxlanDatagram(VNI, inner.subarray(0, 4));
    else d = vxlanDatagram(VNI, inner);
    if (i === DECAP_UNKNOWN_VTEP) addr = parseIpv4('192.168.90.252');
    frames.push(d);
    from.push({ addr, port: 49152 + ((i * 2654435761) >>> 0) % 16384 });
  }
  return batchOf(frames, SLOT_SIZE, SLOT_HEADROOM, from);
}

/** What one decapMix batch must produce: 122 decapsulated and one drop of each kind. */
export const DECAP_EXPECTED = {
  decapFrames: 122,
  drops: { 'vxlan-unknown-vni': 2, 'vxlan-no-i-flag': 2, 'unknown-vtep': 1, 'vxlan-too-short': 1 },
} as const;

// ---------------------------------------------------------------------------
// Checks (before timing)

function checkDrops(c: Counters, want: Readonly<Record<string, number>>, what: string): void {
  for (const name of DROP_NAMES) {
    const got = c.dropCount(name);
    if (got !== (want[name] ?? 0)) throw new Error(`${what}: ${got} ${name} drops, expected ${want[name] ?? 0}`);
  }
}

/** Runs one encapMix batch through `h` (fresh counters expected) and fails unless it decides as ENCAP_EXPECTED. */
export function checkEncap(h: Host, m: EncapMix): void {
  const toNet = new SendList(BATCH);
  const toTap = new SendList(BATCH);
  restoreArp(m);
  h.pipeline.encapBatch(m.batch, toNet, toTap);
  const c = h.counters;
  if (c.encapFrames !== ENCAP_EXPECTED.encapFrames || c.arpAnswered !== ENCAP_EXPECTED.arpAnswered) {
    throw new Error(`encap mix: ${c.encapFrames} encapsulated and ${c.arpAnswered} answered, expected ${ENCAP_EXPECTED.encapFrames} and ${ENCAP_EXPECTED.arpAnswered}`);
  }
  checkDrops(c, ENCAP_EXPECTED.drops, 'encap mix');
  restoreArp(m);
}

export function checkDecap(h: Host, b: FrameBatch): void {
  h.pipeline.decapBatch(b, new SendList(BATCH));
  if (h.counters.decapFrames !== DECAP_EXPECTED.decapFrames) {
    throw new Error(`decap mix: ${h.counters.decapFrames} decapsulated, expected ${DECAP_EXPECTED.decapFrames}`);
  }
  checkDrops(h.counters, DECAP_EXPECTED.drops, 'decap mix');
}

// ---------------------------------------------------------------------------
// Tracers

/** A stream that takes everything and keeps nothing (the text is still made and encoded, as for a real stream). */
export function nullSink(): Writable {
  return new Writable({ write(_chunk, _enc, done) { done(); } });
}

/** The tracer `vxtap run --trace` makes, writing text (no colour: not a TTY) to a null sink. */
export function textTracer(ps: readonly Peer[], filter: string | null = null): FrameTracer {
  return createTracer({
    out: nullSink(), format: 'text', filter, vni: VNI, port: VXLAN_PORT, localIp: LOCAL.vtep, color: false,
    describePeer: describePeer(ps),
  });
}

/** A filter no frame of the mixes matches (TEST-NET-3 appears nowhere): every frame is analysed, none rendered. */
export const FILTER_MATCHING_NOTHING = 'host 203.0.113.9';

/** A tracer that takes the events and does nothing: what the trace edge itself costs (copy, event, lookups), without rendering. */
export function noopTracer(): Tracer & { frames: number } {
  return { frames: 0, frame() { this.frames++; }, endBatch() { /* nothing */ } };
}

/** Fails when a tracer did not do the work its case claims (skipped frames would make it look cheaper). */
export function checkTracer(t: FrameTracer, expect: 'shown' | 'filtered', what: string): void {
  const s = t.stats;
  const ok = s.traced > 0 && s.skipped === 0 && s.outputError === null && (expect === 'shown' ? s.shown === s.traced : s.filtered === s.traced);
  if (!ok) throw new Error(`${what}: tracer stats ${JSON.stringify({ ...s, outputError: s.outputError?.message ?? null })}, expected every frame ${expect}`);
}
