/**
 * Partial checksums on the way to the TAP (native/offload.h: PartialCsum;
 * issue #9 point 5), through the addon's pure functions: tapFinishPartial()
 * (what a write to a plain TAP does first) and tapCoalesce() (what a vnet
 * TAP's write gets). Golden input: frames the kernel's
 * vxlan driver sent (test/fixtures/kernel-vxlan-vni42.pcap), and frames built
 * with the project's wire code in every checksum state (l4-frames.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { loadAddon } from '../../src/io/native';
import { readPcap } from '../../src/io/pcap';
import * as csum from '../../src/wire/checksum';
import { fixturePath } from '../helpers/fixtures';
import { l4Frame, pseudoSum, type L4FrameOpts, type CsumState } from './l4-frames';

const addon = loadAddon();
const ZERO_HDR = Buffer.alloc(10);

/** Frames laid out as a write batch's spans, 64 bytes of headroom before each. */
function batch(frames: Buffer[]): { slab: Buffer; starts: Uint32Array; lens: Uint32Array; at: (k: number) => Buffer } {
  const slot = 2048;
  const slab = Buffer.alloc(frames.length * slot, 0xee);
  const starts = new Uint32Array(frames.length);
  const lens = new Uint32Array(frames.length);
  frames.forEach((f, k) => {
    starts[k] = k * slot + 64;
    lens[k] = f.length;
    f.copy(slab, starts[k]);
  });
  return { slab, starts, lens, at: (k) => slab.subarray(starts[k]!, starts[k]! + lens[k]!) };
}

/** tapFinishPartial on one frame: how many it finished, and the frame after. */
function finish(frame: Buffer): { finished: number; frame: Buffer } {
  const b = batch([frame]);
  const finished = addon.tapFinishPartial(b.slab, b.starts, b.lens, 1);
  assert.equal(b.slab[b.starts[0]! - 1], 0xee, 'nothing written before the frame');
  assert.equal(b.slab[b.starts[0]! + b.lens[0]!], 0xee, 'nothing written after the frame');
  return { finished, frame: Buffer.from(b.at(0)) };
}

function coalesce(frames: Buffer[]): Buffer[] {
  const b = batch(frames);
  return addon.tapCoalesce(b.slab, b.starts, b.lens, frames.length);
}

const base = { src: '10.44.3.2', dst: '10.44.1.2', sport: 40000, dport: 5201, payload: Buffer.from('the quick brown fox jumps over the lazy dog!') } as const;
const v6 = { src: 'fd00:44::3', dst: 'fd00:44::1' } as const;

const kinds: Array<[string, Omit<L4FrameOpts, 'csum'>]> = [
  ['IPv4 TCP', { ...base, proto: 'tcp' }],
  ['IPv4 UDP', { ...base, proto: 'udp' }],
  ['IPv6 TCP', { ...base, ...v6, proto: 'tcp' }],
  ['IPv6 UDP', { ...base, ...v6, proto: 'udp' }],
  ['IPv4 TCP behind an 802.1Q tag', { ...base, proto: 'tcp', vlan: 100 }],
  ['IPv6 UDP behind an 802.1Q tag', { ...base, ...v6, proto: 'udp', vlan: 4094 }],
  ['IPv4 TCP with IP options (IHL 6)', { ...base, proto: 'tcp', ipOptions: Buffer.from('94040000', 'hex') }],
  ['IPv4 UDP with Ethernet padding after the datagram', { ...base, proto: 'udp', payload: Buffer.from('hi'), pad: 16 }],
  ['IPv4 TCP SYN, odd payload length', { ...base, proto: 'tcp', flags: 0x02, payload: Buffer.from('odd') }],
];

test('the kernel\'s own partial checksums (fixture): the field is the folded, not complemented, pseudo-header sum; finished they verify', () => {
  // Frames 17-24: a TCP connection, 26: a UDP datagram, all as kernel vxlan sent them across a veth (test/fixtures/README.md).
  const file = readPcap(readFileSync(fixturePath('kernel-vxlan-vni42.pcap')));
  const INNER = 14 + 20 + 8 + 8; // outer Ethernet, IPv4, UDP, VXLAN
  for (const n of [17, 18, 19, 20, 21, 22, 23, 24, 26]) {
    const inner = Buffer.from(file.records[n - 1]!.data.subarray(INNER));
    const l3 = 14;
    const l4 = l3 + (inner[l3]! & 0x0f) * 4;
    const proto = inner[l3 + 9]!;
    const end = l3 + inner.readUInt16BE(l3 + 2);
    const off = proto === 6 ? 16 : 6;
    const ip = (o: number): string => [...inner.subarray(o, o + 4)].join('.');
    const pseudo = pseudoSum(ip(l3 + 12), ip(l3 + 16), proto, end - l4);
    assert.equal(inner.readUInt16BE(l4 + off), csum.fold(pseudo), `frame ${n}: the field holds fold(pseudo-header), not its complement`);
    assert.equal(csum.verify(inner, l4, end - l4, pseudo), false, `frame ${n}: as sent, the checksum does not verify`);

    const r = finish(inner);
    assert.equal(r.finished, 1, `frame ${n}`);
    assert.ok(csum.verify(r.frame, l4, end - l4, pseudo), `frame ${n}: finished, it verifies`);
    assert.deepEqual(r.frame.subarray(0, l4 + off), inner.subarray(0, l4 + off), `frame ${n}: only the checksum field changed`);
    assert.deepEqual(r.frame.subarray(l4 + off + 2), inner.subarray(l4 + off + 2), `frame ${n}: only the checksum field changed`);
    assert.deepEqual(coalesce([inner]), [Buffer.concat([ZERO_HDR, r.frame])], `frame ${n}: a vnet TAP gets it finished too, alone`);
  }
});

test('a partial checksum is finished to exactly the finished frame, for a plain TAP and for a frame a vnet TAP gets alone', () => {
  for (const [what, k] of kinds) {
    const partial = l4Frame({ ...k, csum: 'partial' });
    const finished = l4Frame({ ...k, csum: 'finished' }).frame;
    const r = finish(partial.frame);
    assert.equal(r.finished, 1, what);
    assert.deepEqual(r.frame, finished, `${what}: finished in software = built finished`);
    assert.deepEqual(coalesce([partial.frame]), [Buffer.concat([ZERO_HDR, finished])], `${what}: vnet TAP, alone`);
  }
});

test('a finished, a wrong or an absent checksum is left byte for byte (the receiving stack drops a wrong one)', () => {
  const cases: Array<[string, Omit<L4FrameOpts, 'csum'>, CsumState]> = [];
  for (const [what, k] of kinds) {
    cases.push([`${what}, finished`, k, 'finished'], [`${what}, wrong`, k, 'bad']);
  }
  cases.push(['IPv4 UDP, checksum 0 ("none", RFC 768)', { ...base, proto: 'udp' }, 'none']);
  for (const [what, k, state] of cases) {
    const f = l4Frame({ ...k, csum: state }).frame;
    const r = finish(f);
    assert.equal(r.finished, 0, what);
    assert.deepEqual(r.frame, f, what);
    assert.deepEqual(coalesce([f]), [Buffer.concat([ZERO_HDR, f])], `${what}: a zeroed vnet header`);
  }
});

test('a finished checksum that happens to equal the pseudo-header sum (1 in 65536) is left as it is and not counted', () => {
  for (const proto of ['tcp', 'udp'] as const) {
    // Build a right checksum equal to fold(pseudo): set the field so, then fix one payload word until it verifies.
    const { frame, at } = l4Frame({ ...base, proto, payload: Buffer.alloc(40), csum: 'partial' });
    const l4len = at.end - at.l4;
    const pseudo = pseudoSum(base.src, base.dst, proto === 'tcp' ? 6 : 17, l4len);
    const s = csum.fold(csum.sum(frame, at.l4, l4len, pseudo));
    frame.writeUInt16BE(~s & 0xffff, at.end - 2); // the last payload word was 0: now the whole sums to 0xffff
    assert.ok(csum.verify(frame, at.l4, l4len, pseudo), `${proto}: built right`);
    assert.equal(frame.readUInt16BE(at.l4 + at.csumOffset), csum.fold(pseudo), `${proto}: and equal to the pseudo-header sum`);
    const r = finish(frame);
    assert.deepEqual([r.finished, r.frame], [0, frame], proto);
    assert.deepEqual(coalesce([frame]), [Buffer.concat([ZERO_HDR, frame])], proto);
  }
});

test('not TCP or UDP, or not a whole datagram: left alone even when the field looks partial', () => {
  const partialTcp = { ...base, proto: 'tcp', csum: 'partial' } as const;
  const cases: Array<[string, Buffer]> = [
    ['an IPv4 fragment (MF)', l4Frame({ ...partialTcp, frag: 0x2000 }).frame],
    ['an IPv4 fragment (offset 8)', l4Frame({ ...partialTcp, frag: 0x0001 }).frame],
    ['an IPv4 total length beyond the frame', l4Frame(partialTcp).frame.subarray(0, 60)],
    ['a UDP length that is not the IP payload\'s', ((): Buffer => {
      const { frame, at } = l4Frame({ ...base, proto: 'udp', csum: 'partial' });
      frame.writeUInt16BE(frame.readUInt16BE(at.l4 + 4) - 1, at.l4 + 4);
      return frame;
    })()],
    ['ICMP', ((): Buffer => {
      const { frame, at } = l4Frame(partialTcp);
      frame[at.l3 + 9] = 1;
      frame.writeUInt16BE(0, at.l3 + 10);
      frame.writeUInt16BE(csum.checksum(frame, at.l3, 20), at.l3 + 10);
      return frame;
    })()],
    ['ARP-sized runt', Buffer.alloc(42, 0x11)],
  ];
  for (const [what, f] of cases) {
    const r = finish(f);
    assert.equal(r.finished, 0, what);
    assert.deepEqual(r.frame, f, what);
    assert.deepEqual(coalesce([f])[0]!.subarray(0, 10), ZERO_HDR, what);
  }
});

test('a batch: each frame on its own, the count is the partial ones only', () => {
  const frames = [
    l4Frame({ ...base, proto: 'udp', csum: 'partial' }).frame,
    l4Frame({ ...base, proto: 'udp', csum: 'bad' }).frame,
    l4Frame({ ...base, ...v6, proto: 'tcp', csum: 'partial' }).frame,
    l4Frame({ ...base, proto: 'udp', csum: 'none' }).frame,
    l4Frame({ ...base, proto: 'tcp', csum: 'finished' }).frame,
  ];
  const b = batch(frames);
  assert.equal(addon.tapFinishPartial(b.slab, b.starts, b.lens, frames.length), 2);
  assert.deepEqual(b.at(0), l4Frame({ ...base, proto: 'udp', csum: 'finished' }).frame);
  assert.deepEqual(b.at(1), frames[1]);
  assert.deepEqual(b.at(2), l4Frame({ ...base, ...v6, proto: 'tcp', csum: 'finished' }).frame);
  assert.deepEqual(b.at(3), frames[3]);
  assert.deepEqual(b.at(4), frames[4]);
});
