/**
 * The TAP offload segmenter and checksum completion (native/offload.cc), as
 * the 'tap-vnet' reader applies them to one read, through the addon's pure
 * tapSegment(). Outputs are checked with the project's own wire verifiers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadAddon } from '../../src/io/native';
import * as ipv4 from '../../src/wire/ipv4';
import * as tcp from '../../src/wire/tcp';
import * as csum from '../../src/wire/checksum';
import { DST, HDR, L3, L4, MSS, SRC, TCP_HDR, ethernet, ipHeader, superFrame, vnetHdr, DST6, SRC6, pseudoSumV6 } from './tso-frames';

const SLOT = 1600;
const HEADROOM = 64;

function slots(n: number): { slab: Buffer; sizes: Uint32Array } {
  return { slab: Buffer.alloc(n * SLOT), sizes: new Uint32Array(n) };
}

test('a 3-segment TCPv4 super-frame becomes 3 finished frames', () => {
  const a = loadAddon();
  const payload = Buffer.alloc(2 * MSS + 700);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 0xff;
  const seq0 = 0xfffffe00; // the sequence number wraps inside the super-frame
  const flags = tcp.FLAG_CWR | tcp.FLAG_ACK | tcp.FLAG_PSH | tcp.FLAG_FIN;
  const frame = superFrame(payload, seq0, flags);
  const pkt = Buffer.concat([vnetHdr(1, 1, MSS, L4, 16, HDR), frame]);
  const { slab, sizes } = slots(4);
  const n = a.tapSegment(pkt, slab, SLOT, HEADROOM, sizes, 4);
  assert.equal(n, 3);
  assert.deepEqual([...sizes.subarray(0, 3)], [HDR + MSS, HDR + MSS, HDR + 700]);
  const want = [
    { id: 0x1234, seq: seq0, flags: tcp.FLAG_CWR | tcp.FLAG_ACK, len: MSS },
    { id: 0x1235, seq: (seq0 + MSS) >>> 0, flags: tcp.FLAG_ACK, len: MSS },
    { id: 0x1236, seq: (seq0 + 2 * MSS) >>> 0, flags: tcp.FLAG_ACK | tcp.FLAG_PSH | tcp.FLAG_FIN, len: 700 },
  ];
  for (let k = 0; k < 3; k++) {
    const f = slab.subarray(k * SLOT + HEADROOM, k * SLOT + HEADROOM + sizes[k]!);
    const w = want[k]!;
    assert.deepEqual(f.subarray(0, 14), frame.subarray(0, 14), `segment ${k}: Ethernet header`);
    assert.equal(ipv4.totalLen(f, L3), 20 + TCP_HDR + w.len, `segment ${k}: IPv4 total length`);
    assert.equal(f.readUInt16BE(L3 + 4), w.id, `segment ${k}: IPv4 ID`);
    assert.equal(f.readUInt16BE(L3 + 6), ipv4.FLAG_DF, `segment ${k}: DF kept`);
    assert.ok(ipv4.verifyChecksum(f, L3), `segment ${k}: IPv4 header checksum`);
    assert.equal(f.readUInt32BE(L4 + 4), w.seq, `segment ${k}: sequence number`);
    assert.equal(f.readUInt32BE(L4 + 8), 0x01020304, `segment ${k}: ack number`);
    assert.equal(tcp.flags(f, L4), w.flags, `segment ${k}: flags ${tcp.flagsToString(tcp.flags(f, L4))}`);
    assert.deepEqual(f.subarray(L4 + 20, HDR), frame.subarray(L4 + 20, HDR), `segment ${k}: TCP options`);
    assert.ok(tcp.verifyChecksumIpv4(f, L4, TCP_HDR + w.len, SRC, DST), `segment ${k}: TCP checksum`);
    assert.deepEqual(f.subarray(HDR), payload.subarray(k * MSS, k * MSS + w.len), `segment ${k}: payload`);
  }
  // Golden bytes of the last segment's IPv4 and TCP checksums and header, computed by the project's own code.
  const last = Buffer.from(slab.subarray(2 * SLOT + HEADROOM, 2 * SLOT + HEADROOM + sizes[2]!));
  const ipSum = last.readUInt16BE(L3 + 10);
  last.writeUInt16BE(0, L3 + 10);
  assert.equal(ipSum, ipv4.computeChecksum(last, L3));
  assert.equal(last.readUInt16BE(L4 + 16), tcp.checksumIpv4(last, L4, TCP_HDR + 700, SRC, DST));
});

test('a super-frame whose payload is an exact multiple of the MSS, and one behind a VLAN tag', () => {
  const a = loadAddon();
  const payload = Buffer.alloc(3 * MSS, 0x5a);
  const frame = superFrame(payload, 1, tcp.FLAG_ACK | tcp.FLAG_PSH);
  const { slab, sizes } = slots(3);
  assert.equal(a.tapSegment(Buffer.concat([vnetHdr(1, 1, MSS, L4, 16, HDR), frame]), slab, SLOT, HEADROOM, sizes, 3), 3);
  assert.deepEqual([...sizes], [HDR + MSS, HDR + MSS, HDR + MSS]);
  assert.equal(tcp.flags(slab, 2 * SLOT + HEADROOM + L4), tcp.FLAG_ACK | tcp.FLAG_PSH);
  assert.equal(tcp.flags(slab, SLOT + HEADROOM + L4), tcp.FLAG_ACK);

  const tagged = Buffer.concat([ethernet(0x8100), Buffer.from('00640800', 'hex'), frame.subarray(14)]);
  tagged.writeUInt16BE(0x8100, 12);
  const t2 = slots(3);
  assert.equal(a.tapSegment(Buffer.concat([vnetHdr(1, 1, MSS, L4 + 4, 16, HDR + 4), tagged]), t2.slab, SLOT, HEADROOM, t2.sizes, 3), 3);
  for (let k = 0; k < 3; k++) {
    assert.ok(ipv4.verifyChecksum(t2.slab, k * SLOT + HEADROOM + L3 + 4));
    assert.ok(tcp.verifyChecksumIpv4(t2.slab, k * SLOT + HEADROOM + L4 + 4, TCP_HDR + MSS, SRC, DST));
  }
});

test('NEEDS_CSUM without GSO: the partial checksum is completed in place', () => {
  const a = loadAddon();
  // UDP, 37 bytes of payload (an odd length), checksum field holding the pseudo-header sum.
  const data = Buffer.from('an odd-length UDP payload of 37 bytes');
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(5000, 0);
  udp.writeUInt16BE(6000, 2);
  udp.writeUInt16BE(8 + data.length, 4);
  udp.writeUInt16BE(csum.fold(csum.pseudoHeaderSumIpv4(SRC, DST, 17, 8 + data.length)), 6);
  const frame = Buffer.concat([ethernet(0x0800), ipHeader(17, 8 + data.length, 7), udp, data]);
  const { slab, sizes } = slots(1);
  assert.equal(a.tapSegment(Buffer.concat([vnetHdr(1, 0, 0, L4, 6, 0), frame]), slab, SLOT, HEADROOM, sizes, 1), 1);
  assert.equal(sizes[0], frame.length);
  const out = slab.subarray(HEADROOM, HEADROOM + frame.length);
  assert.ok(csum.verify(out, L4, 8 + data.length, csum.pseudoHeaderSumIpv4(SRC, DST, 17, 8 + data.length)), 'UDP checksum');
  assert.deepEqual(out.subarray(0, L4 + 6), frame.subarray(0, L4 + 6), 'nothing else changed');

  // Without NEEDS_CSUM the frame is passed as it is.
  const plain = slots(1);
  assert.equal(a.tapSegment(Buffer.concat([vnetHdr(0, 0, 0, 0, 0, 0), frame]), plain.slab, SLOT, HEADROOM, plain.sizes, 1), 1);
  assert.deepEqual(plain.slab.subarray(HEADROOM, HEADROOM + frame.length), frame);
});

test('what is not segmented: other GSO types, bad headers, bad csum spans; too few slots throws', () => {
  const a = loadAddon();
  const frame = superFrame(Buffer.alloc(2 * MSS + 1), 0, tcp.FLAG_ACK);
  const { slab, sizes } = slots(3);
  assert.equal(a.tapSegment(Buffer.concat([vnetHdr(1, 4, MSS, L4, 16, HDR), frame]), slab, SLOT, HEADROOM, sizes, 3), 0, 'the TCPv6 GSO type on an IPv4 frame');
  assert.equal(a.tapSegment(Buffer.concat([vnetHdr(1, 3, MSS, L4, 6, HDR), frame]), slab, SLOT, HEADROOM, sizes, 3), 0, 'UDP GSO');
  assert.equal(a.tapSegment(Buffer.concat([vnetHdr(1, 1, 0, L4, 16, HDR), frame]), slab, SLOT, HEADROOM, sizes, 3), 0, 'gso_size 0');
  assert.equal(a.tapSegment(Buffer.concat([vnetHdr(1, 1, 4000, L4, 16, HDR), frame]), slab, SLOT, HEADROOM, sizes, 3), 0, 'a segment longer than a slot');
  const arp = Buffer.concat([ethernet(0x0806), Buffer.alloc(28)]);
  assert.equal(a.tapSegment(Buffer.concat([vnetHdr(1, 1, MSS, L4, 16, HDR), arp]), slab, SLOT, HEADROOM, sizes, 3), 0, 'not IPv4');
  assert.equal(a.tapSegment(Buffer.concat([vnetHdr(1, 0, 0, 40, 16, 0), arp]), slab, SLOT, HEADROOM, sizes, 3), 0, 'csum span outside the frame');
  assert.throws(() => a.tapSegment(Buffer.concat([vnetHdr(1, 1, MSS, L4, 16, HDR), frame]), slab, SLOT, HEADROOM, sizes, 2), RangeError);
});

test('a TCPv6 super-frame (TSO6) becomes finished frames: payload length, sequence, flags, checksum over the IPv6 pseudo-header', () => {
  const a = loadAddon();
  const payload = Buffer.alloc(2 * MSS + 300);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 5 + 11) & 0xff;
  const src = SRC6;
  const dst = DST6;
  const L4v6 = 14 + 40;
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE(0x60012345, 0); // version 6, a flow label to keep
  ip.writeUInt16BE(TCP_HDR + payload.length, 4);
  ip[6] = 6;
  ip[7] = 64;
  src.copy(ip, 8);
  dst.copy(ip, 24);
  const pseudo = pseudoSumV6;
  const th = Buffer.alloc(TCP_HDR);
  th.writeUInt16BE(40000, 0);
  th.writeUInt16BE(5201, 2);
  th.writeUInt32BE(1000, 4);
  th[12] = (TCP_HDR / 4) << 4;
  th[13] = tcp.FLAG_ACK | tcp.FLAG_PSH;
  Buffer.from('0101080a0000aaaa0000bbbb', 'hex').copy(th, 20);
  th.writeUInt16BE(csum.fold(pseudo(TCP_HDR + payload.length)), 16);
  const frame = Buffer.concat([ethernet(0x86dd), ip, th, payload]);
  const { slab, sizes } = slots(3);
  assert.equal(a.tapSegment(Buffer.concat([vnetHdr(1, 4, MSS, L4v6, 16, L4v6 + TCP_HDR), frame]), slab, SLOT, HEADROOM, sizes, 3), 3);
  const lens = [MSS, MSS, 300];
  for (let k = 0; k < 3; k++) {
    const f = slab.subarray(k * SLOT + HEADROOM, k * SLOT + HEADROOM + sizes[k]!);
    assert.equal(f.length, L4v6 + TCP_HDR + lens[k]!);
    assert.equal(f.readUInt32BE(14), 0x60012345, `segment ${k}: version, class and flow label kept`);
    assert.equal(f.readUInt16BE(14 + 4), TCP_HDR + lens[k]!, `segment ${k}: payload length`);
    assert.equal(f.readUInt32BE(L4v6 + 4), 1000 + k * MSS, `segment ${k}: sequence`);
    assert.equal(tcp.flags(f, L4v6), k === 2 ? tcp.FLAG_ACK | tcp.FLAG_PSH : tcp.FLAG_ACK, `segment ${k}: PSH on the last only`);
    assert.ok(csum.verify(f, L4v6, TCP_HDR + lens[k]!, pseudo(TCP_HDR + lens[k]!)), `segment ${k}: TCP checksum`);
    assert.deepEqual(f.subarray(L4v6 + TCP_HDR), payload.subarray(k * MSS, k * MSS + lens[k]!));
  }
  // A TSO6 type on an IPv4 frame, and the TSO4 type on this IPv6 frame, are dropped.
  assert.equal(a.tapSegment(Buffer.concat([vnetHdr(1, 1, MSS, L4v6, 16, L4v6 + TCP_HDR), frame]), slab, SLOT, HEADROOM, sizes, 3), 0);
});

