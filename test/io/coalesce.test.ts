/**
 * Receive-side coalescing (native/coalesce.h) through the addon's pure
 * tapCoalesce(): which frames of a write batch become one GSO super-frame,
 * and what the super-frame's bytes and virtio_net_hdr are. Golden input:
 * finished segments built with the project's own wire code; the expected
 * super-frame is the one a sender's TSO would have handed over.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAddon } from '../../src/io/native';
import * as ipv4 from '../../src/wire/ipv4';
import * as tcp from '../../src/wire/tcp';
import * as csum from '../../src/wire/checksum';
import { parseIpv4 } from '../../src/wire/addr';
import { vnetHdr, DST6, SRC6, pseudoSumV6 } from './tso-frames';

const SRC = parseIpv4('10.44.1.5');
const DST = parseIpv4('10.44.2.7');
const MSS = 1000;
const L3 = 14;
const L4 = 34;
const TCP_HDR = 32; // 20 + NOP NOP timestamps
const HDR = L4 + TCP_HDR;
const ACK = tcp.FLAG_ACK;

interface Seg {
  payload: Buffer;
  seq: number;
  flags?: number;
  sport?: number;
  id?: number;
  /** The TCP checksum as built (finished unless told). */
  tcpCsum?: 'finished' | 'partial' | 'bad';
}

/** One Ethernet + IPv4 + TCP frame; checksums finished unless `tcpCsum` says otherwise. */
function frame(s: Seg): Buffer {
  const f = Buffer.alloc(HDR + s.payload.length);
  Buffer.from('0276c0a85a020276c0a85a010800', 'hex').copy(f, 0);
  f[L3] = 0x45;
  f.writeUInt16BE(20 + TCP_HDR + s.payload.length, L3 + 2);
  f.writeUInt16BE(s.id ?? 7, L3 + 4);
  f.writeUInt16BE(ipv4.FLAG_DF, L3 + 6);
  f[L3 + 8] = 64;
  f[L3 + 9] = 6;
  f.writeUInt32BE(SRC, L3 + 12);
  f.writeUInt32BE(DST, L3 + 16);
  ipv4.fillChecksum(f, L3);
  f.writeUInt16BE(s.sport ?? 40000, L4);
  f.writeUInt16BE(5201, L4 + 2);
  f.writeUInt32BE(s.seq >>> 0, L4 + 4);
  f.writeUInt32BE(0x01020304, L4 + 8);
  f[L4 + 12] = (TCP_HDR / 4) << 4;
  f[L4 + 13] = s.flags ?? ACK;
  f.writeUInt16BE(502, L4 + 14);
  Buffer.from('0101080a0000aaaa0000bbbb', 'hex').copy(f, L4 + 20);
  s.payload.copy(f, HDR);
  const l4len = TCP_HDR + s.payload.length;
  if (s.tcpCsum === 'partial') {
    f.writeUInt16BE(csum.fold(csum.pseudoHeaderSumIpv4(SRC, DST, 6, l4len)), L4 + 16);
  } else {
    f.writeUInt16BE(tcp.checksumIpv4(f, L4, l4len, SRC, DST), L4 + 16);
    if (s.tcpCsum === 'bad') f[HDR] = f[HDR]! ^ 0xff; // corrupt the payload after the sum
  }
  return f;
}

/** Frames laid out as a write batch's spans (64 bytes of headroom before each, as in a slot). */
function batch(frames: Buffer[]): { slab: Buffer; starts: Uint32Array; lens: Uint32Array } {
  const slot = 1600;
  const slab = Buffer.alloc(frames.length * slot);
  const starts = new Uint32Array(frames.length);
  const lens = new Uint32Array(frames.length);
  frames.forEach((f, k) => {
    starts[k] = k * slot + 64;
    lens[k] = f.length;
    f.copy(slab, starts[k]);
  });
  return { slab, starts, lens };
}

function coalesce(frames: Buffer[]): Buffer[] {
  const b = batch(frames);
  return loadAddon().tapCoalesce(b.slab, b.starts, b.lens, frames.length);
}

const ZERO_HDR = Buffer.alloc(10);

function pattern(n: number, salt: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + salt) & 0xff;
  return b;
}

/** Segments of `payload` cut at MSS from seq0, PSH on the last one; IDs counting up from 0x1234. */
function segments(payload: Buffer, seq0: number, extra: Partial<Seg> = {}): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0, k = 0; off < payload.length; off += MSS, k++) {
    const last = off + MSS >= payload.length;
    out.push(frame({ payload: payload.subarray(off, off + MSS), seq: seq0 + off, flags: last ? ACK | tcp.FLAG_PSH : ACK, id: 0x1234 + k, ...extra }));
  }
  return out;
}

test('segments of one flow become the super-frame TSO would have sent, with a GSO TCPv4 NEEDS_CSUM header', () => {
  const payload = pattern(2 * MSS + 700, 3);
  const seq0 = 0xfffffe00; // the sequence number wraps inside the group
  const out = coalesce(segments(payload, seq0));
  assert.equal(out.length, 1, 'one write');
  const want = frame({ payload, seq: seq0, flags: ACK | tcp.FLAG_PSH, id: 0x1234, tcpCsum: 'partial' });
  assert.deepEqual(out[0], Buffer.concat([vnetHdr(1, 1, MSS, L4, 16, HDR), want]));
  assert.ok(ipv4.verifyChecksum(out[0]!, 10 + L3), 'IPv4 header checksum of the super-frame');
});

test('frames that are not coalesced go out alone, unchanged, behind a zeroed header', () => {
  const p = pattern(MSS, 9);
  const cases: Array<[string, Buffer[]]> = [
    ['a gap in the sequence', [frame({ payload: p, seq: 0 }), frame({ payload: p, seq: 2 * MSS })]],
    ['a bad TCP checksum (the kernel must see it and drop it)', [frame({ payload: p, seq: 0 }), frame({ payload: p, seq: MSS, tcpCsum: 'bad' })]],
    ['PSH on the head ends its group', [frame({ payload: p, seq: 0, flags: ACK | tcp.FLAG_PSH }), frame({ payload: p, seq: MSS })]],
    ['another flow', [frame({ payload: p, seq: 0 }), frame({ payload: p, seq: MSS, sport: 40001 })]],
    ['SYN', [frame({ payload: p, seq: 0, flags: ACK | tcp.FLAG_SYN }), frame({ payload: p, seq: MSS, flags: ACK | tcp.FLAG_SYN })]],
    ['CWR', [frame({ payload: p, seq: 0, flags: ACK | tcp.FLAG_CWR }), frame({ payload: p, seq: MSS })]],
    ['a next segment longer than the head', [frame({ payload: p.subarray(0, 500), seq: 0 }), frame({ payload: p, seq: 500 })]],
    ['a pure ACK', [frame({ payload: Buffer.alloc(0), seq: 0 }), frame({ payload: Buffer.alloc(0), seq: 0 })]],
  ];
  for (const [why, frames] of cases) {
    const out = coalesce(frames);
    assert.equal(out.length, 2, why);
    out.forEach((w, k) => assert.deepEqual(w, Buffer.concat([ZERO_HDR, frames[k]!]), `${why}: write ${k}`));
  }
});

test('segments with partial checksums (a kernel vxlan peer across a veth) coalesce as finished ones do; a wrong one among them is written alone', () => {
  const payload = pattern(3 * MSS, 11);
  const want = Buffer.concat([vnetHdr(1, 1, MSS, L4, 16, HDR), frame({ payload, seq: 7000, flags: ACK | tcp.FLAG_PSH, id: 0x1234, tcpCsum: 'partial' })]);
  const finished = segments(payload, 7000);
  const partial = segments(payload, 7000, { tcpCsum: 'partial' });
  assert.deepEqual(coalesce(partial), [want], 'all partial: the same super-frame as finished segments make');
  assert.deepEqual(coalesce([finished[0]!, partial[1]!, finished[2]!]), [want], 'mixed');
  // A wrong checksum is neither right nor partial: it breaks the group and keeps its bytes.
  const bad = frame({ payload: payload.subarray(MSS, 2 * MSS), seq: 7000 + MSS, id: 0x1235, tcpCsum: 'bad' });
  const out = coalesce([partial[0]!, bad, partial[2]!]);
  assert.deepEqual(out, [finished[0]!, bad, finished[2]!].map((f) => Buffer.concat([ZERO_HDR, f])),
    'three writes: the partial ones alone are finished, the wrong one is left wrong');
});

test('groups end at a shorter segment, at 64 segments, and restart after a frame that broke them', () => {
  // A shorter segment closes the group: the next full one starts a new group.
  const p = pattern(MSS, 1);
  const short = [frame({ payload: p, seq: 0 }), frame({ payload: p.subarray(0, 10), seq: MSS }), frame({ payload: p, seq: MSS + 10 }), frame({ payload: p, seq: 2 * MSS + 10 })];
  const out = coalesce(short);
  assert.deepEqual(out.map((w) => [w[1], w.readUInt16LE(4), w.length - 10]), [[1, MSS, HDR + MSS + 10], [1, MSS, HDR + 2 * MSS]]);

  // 70 segments of 100 bytes: 64 in the first super-frame, 6 in the second.
  const small: Buffer[] = [];
  for (let k = 0; k < 70; k++) small.push(frame({ payload: pattern(100, k), seq: 1000 + 100 * k }));
  const big = coalesce(small);
  assert.deepEqual(big.map((w) => ipv4.totalLen(w, 10 + L3) - 20 - TCP_HDR), [6400, 600]);

  // Two flows, each in a run: two super-frames; a bad segment between two runs of one flow splits it in three writes.
  const a = segments(pattern(2 * MSS, 2), 0);
  const b = segments(pattern(2 * MSS, 4), 0, { sport: 40001 });
  assert.deepEqual(coalesce([...a, ...b]).map((w) => w[1]), [1, 1]);
  const run = segments(pattern(3 * MSS, 6), 0).map((f) => Buffer.from(f));
  run[1]![HDR + 5] ^= 1;
  assert.deepEqual(coalesce(run).map((w) => [w[1], w.length - 10]), [[0, HDR + MSS], [0, HDR + MSS], [0, HDR + MSS]]);
});

test('IPv6: segments of one flow become one TCPV6 super-frame (payload length, pseudo-header sum); a changed flow label ends the group', () => {
  const src = SRC6;
  const dst = DST6;
  const L4v6 = 14 + 40;
  const pseudo = pseudoSumV6;
  const frame6 = (payload: Buffer, seq: number, flags: number, partial = false, flow = 0x12345): Buffer => {
    const f = Buffer.alloc(L4v6 + TCP_HDR + payload.length);
    Buffer.from('0276c0a85a020276c0a85a0186dd', 'hex').copy(f, 0);
    f.writeUInt32BE((0x6 << 28) | flow, 14);
    f.writeUInt16BE(TCP_HDR + payload.length, 18);
    f[20] = 6;
    f[21] = 64;
    src.copy(f, 22);
    dst.copy(f, 38);
    f.writeUInt16BE(40000, L4v6);
    f.writeUInt16BE(5201, L4v6 + 2);
    f.writeUInt32BE(seq >>> 0, L4v6 + 4);
    f.writeUInt32BE(0x01020304, L4v6 + 8);
    f[L4v6 + 12] = (TCP_HDR / 4) << 4;
    f[L4v6 + 13] = flags;
    f.writeUInt16BE(502, L4v6 + 14);
    Buffer.from('0101080a0000aaaa0000bbbb', 'hex').copy(f, L4v6 + 20);
    payload.copy(f, L4v6 + TCP_HDR);
    const l4len = TCP_HDR + payload.length;
    f.writeUInt16BE(partial ? csum.fold(pseudo(l4len)) : csum.checksum(f, L4v6, l4len, pseudo(l4len)), L4v6 + 16);
    return f;
  };
  const payload = pattern(2 * MSS + 300, 17);
  const segs = [0, 1, 2].map((k) => frame6(payload.subarray(k * MSS, k * MSS + MSS), 5000 + k * MSS, k === 2 ? ACK | tcp.FLAG_PSH : ACK));
  const out = coalesce(segs);
  assert.equal(out.length, 1);
  const want = frame6(payload, 5000, ACK | tcp.FLAG_PSH, true);
  assert.deepEqual(out[0], Buffer.concat([vnetHdr(1, 4, MSS, L4v6, 16, L4v6 + TCP_HDR), want]));

  const other = [frame6(payload.subarray(0, MSS), 0, ACK), frame6(payload.subarray(MSS, 2 * MSS), MSS, ACK, false, 0x54321)];
  assert.deepEqual(coalesce(other).map((w) => w[1]), [0, 0], 'another flow label: two plain writes');
});

