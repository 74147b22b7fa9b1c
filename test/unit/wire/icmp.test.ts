import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireError } from '../../../src/errors';
import * as icmp from '../../../src/wire/icmp';

// Fixture frame 7: echo request id 0x3e9f seq 1, 56 bytes of ping data.
const ECHO_DATA = [
  0xcc, 0xbf, 0x04, 0x6b, 0x00, 0x00, 0x00, 0x00, 0x52, 0xe2, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x00, // timestamp
  ...Array.from({ length: 40 }, (_, i) => 0x10 + i), //                                              0x10..0x37
];
const ECHO_REQUEST = [
  0x08, 0x00, 0xcb, 0x7f, // type 8 echo request, code 0, checksum 0xcb7f
  0x3e, 0x9f, 0x00, 0x01, // ident 0x3e9f, seq 1
  ...ECHO_DATA,
];

// Fixture frame 27: port unreachable, quoting the IPv4 header and UDP header of frame 26.
const QUOTED = [
  0x45, 0x00, 0x00, 0x2a, 0x1f, 0x6d, 0x40, 0x00, 0x40, 0x11, 0x03, 0xf2, 0x0a, 0x32, 0x01, 0x00, 0x0a, 0x32, 0x02, 0x01,
  0xd4, 0x25, 0x27, 0x0f, 0x00, 0x16, 0x17, 0x8c,
  0x75, 0x64, 0x70, 0x20, 0x6f, 0x76, 0x65, 0x72, 0x20, 0x76, 0x78, 0x6c, 0x61, 0x6e, // "udp over vxlan"
];
const PORT_UNREACH = [
  0x03, 0x03, 0x35, 0x67, // type 3 dest unreachable, code 3 port unreachable, checksum 0x3567
  0x00, 0x00, 0x00, 0x00, // unused
  ...QUOTED,
];

describe('icmp', () => {
  it('field offsets', () => {
    assert.deepEqual(icmp.field, { TYPE: 0, CODE: 1, CHECKSUM: 2, IDENT: 4, SEQ: 6, NEXT_HOP_MTU: 6, DATA: 8 });
    assert.equal(icmp.HEADER_LEN, 8);
  });

  it('decodes the echo request of fixture frame 7', () => {
    const buf = Buffer.from(ECHO_REQUEST);
    const p = icmp.IcmpPacket.checked(buf, 0, buf.length);
    assert.equal(p.type, icmp.TYPE_ECHO_REQUEST);
    assert.equal(p.code, 0);
    assert.equal(p.checksum, 0xcb7f);
    assert.equal(p.checksumOk, true);
    assert.equal(p.ident, 0x3e9f);
    assert.equal(p.seq, 1);
    assert.equal(p.dataOffset, 8);
    assert.equal(p.dataLen, 56);
    assert.deepEqual([...p.data], ECHO_DATA);
    assert.equal(icmp.type(buf, 0), 8);
    assert.equal(icmp.code(buf, 0), 0);
    const repr = icmp.parse(p);
    assert.deepEqual(repr, { type: 8, code: 0, ident: 0x3e9f, seq: 1, data: Buffer.from(ECHO_DATA) });
  });

  it('emits the echo request and its reply (fixture frame 8) byte for byte', () => {
    const out = Buffer.alloc(64);
    const repr: icmp.IcmpRepr = { type: icmp.TYPE_ECHO_REQUEST, code: 0, ident: 0x3e9f, seq: 1, data: Buffer.from(ECHO_DATA) };
    assert.equal(icmp.bufferLen(repr), 64);
    assert.equal(icmp.emit(repr, out, 0), 64);
    assert.deepEqual(out, Buffer.from(ECHO_REQUEST));
    // The reply differs only in type, so its checksum is 0x0800 higher (0xcb7f + 0x0800).
    icmp.emit({ ...repr, type: icmp.TYPE_ECHO_REPLY }, out, 0);
    assert.equal(out.readUInt16BE(2), 0xd37f);
  });

  it('decodes and re-emits the port unreachable of fixture frame 27', () => {
    const buf = Buffer.from(PORT_UNREACH);
    const p = icmp.IcmpPacket.checked(buf, 0, buf.length);
    assert.equal(p.type, icmp.TYPE_DEST_UNREACHABLE);
    assert.equal(p.code, icmp.CODE_PORT_UNREACHABLE);
    assert.equal(p.checksumOk, true);
    assert.equal(icmp.typeName(p.type), 'dest-unreachable');
    assert.equal(icmp.codeName(p.type, p.code), 'port-unreachable');
    assert.deepEqual([...p.data], QUOTED);
    const repr = icmp.parse(p);
    const out = Buffer.alloc(icmp.bufferLen(repr));
    icmp.emit(repr, out, 0);
    assert.deepEqual(out, buf);
  });

  it('names types and codes, keeping unknown ones', () => {
    assert.equal(icmp.typeName(0), 'echo-reply');
    assert.equal(icmp.typeName(8), 'echo-request');
    assert.equal(icmp.typeName(11), 'time-exceeded');
    assert.equal(icmp.typeName(42), 'type-42');
    assert.equal(icmp.codeName(3, 0), 'net-unreachable');
    assert.equal(icmp.codeName(3, 1), 'host-unreachable');
    assert.equal(icmp.codeName(3, 4), 'fragmentation-needed');
    assert.equal(icmp.codeName(3, 99), 'code-99');
    assert.equal(icmp.codeName(11, 0), 'ttl-exceeded');
    assert.equal(icmp.codeName(11, 1), 'reassembly-exceeded');
    assert.equal(icmp.codeName(8, 0), 'code-0');
  });

  it('reads the next-hop MTU of fragmentation needed', () => {
    const buf = Buffer.from([0x03, 0x04, 0x00, 0x00, 0x00, 0x00, 0x05, 0x78]);
    icmp.fillChecksum(buf, 0, buf.length);
    const p = icmp.IcmpPacket.checked(buf, 0, buf.length);
    assert.equal(p.nextHopMtu, 1400);
    assert.equal(p.checksumOk, true);
  });

  it('works at a non-zero offset in a pooled slice, and setters write in place', () => {
    const slab = Buffer.alloc(100, 0xee).subarray(5);
    Buffer.from(ECHO_REQUEST).copy(slab, 3);
    const p = icmp.IcmpPacket.checked(slab, 3, 64);
    assert.equal(p.checksumOk, true);
    assert.equal(icmp.computeChecksum(slab, 3, 64), 0xcb7f);
    p.type = icmp.TYPE_ECHO_REPLY;
    assert.equal(p.checksumOk, false);
    p.fillChecksum();
    assert.equal(p.checksum, 0xd37f);
    assert.equal(slab[2], 0xee);
  });

  it('checked() and parse() refuse bad input', () => {
    assert.throws(() => icmp.IcmpPacket.checked(Buffer.from(ECHO_REQUEST), 0, 5),
      (e: unknown) => e instanceof WireError && /5 bytes, the header needs 8 \(3 short\)/.test(e.message));
    const bad = Buffer.from(ECHO_REQUEST); bad[63] ^= 1;
    assert.throws(() => icmp.parse(icmp.IcmpPacket.checked(bad, 0, bad.length)),
      (e: unknown) => e instanceof WireError && /checksum 0xcb7f is wrong/.test(e.message));
  });
});
