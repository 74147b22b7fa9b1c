import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireError } from '../../../src/errors';
import { parseIpv4 } from '../../../src/wire/addr';
import * as csum from '../../../src/wire/checksum';
import * as tcp from '../../../src/wire/tcp';

// Fixture frame 17, inner TCP SYN 58286 > 7777 with 20 bytes of options.
const SYN = [
  0xe3, 0xae, 0x1e, 0x61, //             ports 58286 > 7777
  0x7d, 0x15, 0xa7, 0xd4, //             seq 2098571220
  0x00, 0x00, 0x00, 0x00, //             ack 0
  0xa0, 0x02, 0xfd, 0x5c, //             data offset 10 (40 bytes), flags SYN, window 64860
  0x17, 0x93, 0x00, 0x00, //             checksum (partial, before offload), urgent 0
  0x02, 0x04, 0x05, 0x82, //             MSS 1410
  0x04, 0x02, //                         SACK permitted
  0x08, 0x0a, 0x38, 0xc5, 0xd3, 0x5b, 0x00, 0x00, 0x00, 0x00, // timestamps
  0x01, //                               NOP
  0x03, 0x03, 0x0a, //                   window scale 10
];

// Fixture frame 20, inner TCP header of the 240-byte data segment (PSH,ACK).
const DATA_HDR = [
  0xe3, 0xae, 0x1e, 0x61, 0x7d, 0x15, 0xa7, 0xd5, 0xa5, 0x9a, 0xb5, 0x2b,
  0x80, 0x18, 0x00, 0x40, //             data offset 8 (32 bytes), flags PSH|ACK, window 64
  0x18, 0x7b, 0x00, 0x00,
  0x01, 0x01, 0x08, 0x0a, 0x38, 0xc5, 0xd3, 0x5b, 0x7b, 0x3d, 0x1e, 0xca, // NOP NOP timestamps
];

describe('tcp', () => {
  it('field offsets and flag bits', () => {
    assert.deepEqual(tcp.field, {
      SRC_PORT: 0, DST_PORT: 2, SEQ: 4, ACK: 8, DATA_OFF: 12, FLAGS: 13, WINDOW: 14, CHECKSUM: 16, URGENT: 18, OPTIONS: 20,
    });
    assert.equal(tcp.HEADER_LEN, 20);
    assert.deepEqual(
      [tcp.FLAG_FIN, tcp.FLAG_SYN, tcp.FLAG_RST, tcp.FLAG_PSH, tcp.FLAG_ACK, tcp.FLAG_URG, tcp.FLAG_ECE, tcp.FLAG_CWR],
      [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80]);
  });

  it('decodes the SYN of fixture frame 17', () => {
    const buf = Buffer.from(SYN);
    const p = tcp.TcpPacket.checked(buf, 0, buf.length);
    assert.equal(p.srcPort, 58286);
    assert.equal(p.dstPort, 7777);
    assert.equal(p.seq, 2098571220);
    assert.equal(p.ack, 0);
    assert.equal(p.headerLen, 40);
    assert.equal(p.reserved, 0);
    assert.equal(p.flags, tcp.FLAG_SYN);
    assert.equal(p.syn, true);
    assert.equal(p.ackFlag, false);
    assert.equal(p.window, 64860);
    assert.equal(p.checksum, 0x1793);
    assert.equal(p.urgent, 0);
    assert.deepEqual([...p.options], SYN.slice(20));
    assert.equal(p.payloadLen, 0);
    assert.equal(tcp.srcPort(buf, 0), 58286);
    assert.equal(tcp.dstPort(buf, 0), 7777);
    assert.equal(tcp.flags(buf, 0), 0x02);
    assert.equal(tcp.headerLen(buf, 0), 40);
  });

  it('decodes the data segment of fixture frame 20 with its 240-byte payload', () => {
    const buf = Buffer.concat([Buffer.from(DATA_HDR), Buffer.alloc(240, 0x61)]);
    const p = tcp.TcpPacket.checked(buf, 0, buf.length);
    assert.equal(p.seq, 2098571221);
    assert.equal(p.ack, 2778379563);
    assert.equal(tcp.flagsToString(p.flags), 'PSH,ACK');
    assert.equal(p.headerLen, 32);
    assert.equal(p.payloadOffset, 32);
    assert.equal(p.payloadLen, 240);
    assert.deepEqual(tcp.parse(p), {
      srcPort: 58286, dstPort: 7777, seq: 2098571221, ack: 2778379563, flags: 0x18, window: 64,
      checksum: 0x187b, urgent: 0, options: Buffer.from(DATA_HDR.slice(20)), payloadLen: 240,
    });
  });

  it('emits both fixture headers byte for byte from their Repr', () => {
    for (const golden of [SYN, DATA_HDR]) {
      const repr = tcp.parse(tcp.TcpPacket.checked(Buffer.from(golden), 0, golden.length));
      const out = Buffer.alloc(tcp.bufferLen(repr));
      assert.equal(tcp.emit(repr, out, 0), golden.length);
      assert.deepEqual(out, Buffer.from(golden));
    }
  });

  it('flagsToString prints names in bit order', () => {
    assert.equal(tcp.flagsToString(tcp.FLAG_SYN | tcp.FLAG_ACK), 'SYN,ACK');
    assert.equal(tcp.flagsToString(tcp.FLAG_FIN | tcp.FLAG_ACK), 'FIN,ACK');
    assert.equal(tcp.flagsToString(tcp.FLAG_RST), 'RST');
    assert.equal(tcp.flagsToString(0xff), 'FIN,SYN,RST,PSH,ACK,URG,ECE,CWR');
    assert.equal(tcp.flagsToString(0), '');
  });

  it('checksumIpv4 completes the partial checksum left by offload, and verifies', () => {
    const src = parseIpv4('10.50.1.0');
    const dst = parseIpv4('10.50.2.1');
    const buf = Buffer.from(SYN);
    const final = csum.checksum(buf, 0, buf.length); // what the device would write
    assert.equal(tcp.checksumIpv4(buf, 0, buf.length, src, dst), final);
    buf.writeUInt16BE(final, 16);
    assert.equal(tcp.verifyChecksumIpv4(buf, 0, buf.length, src, dst), true);
    // Swapping src and dst leaves the sum alone; another address does not.
    assert.equal(tcp.verifyChecksumIpv4(buf, 0, buf.length, dst, src), true);
    assert.equal(tcp.verifyChecksumIpv4(buf, 0, buf.length, src, parseIpv4('10.50.2.2')), false);
  });

  it('works at a non-zero offset in a pooled slice, and setters write in place', () => {
    const slab = Buffer.alloc(80, 0xee).subarray(3);
    Buffer.from(SYN).copy(slab, 10);
    const p = tcp.TcpPacket.checked(slab, 10, 40);
    assert.equal(p.seq, 2098571220);
    p.seq = 0xffffffff;
    p.flags = tcp.FLAG_RST | tcp.FLAG_ACK;
    p.headerLen = 20;
    assert.equal(p.seq, 0xffffffff);
    assert.equal(slab[10 + 12], 0x50);
    assert.equal(tcp.flagsToString(tcp.flags(slab, 10)), 'RST,ACK');
    assert.equal(slab[9], 0xee);
  });

  it('checked() says what is wrong', () => {
    const wire = (f: () => unknown, re: RegExp): void => {
      assert.throws(f, (e: unknown) => e instanceof WireError && re.test(e.message));
    };
    wire(() => tcp.TcpPacket.checked(Buffer.from(SYN), 0, 19), /19 bytes, the header needs 20 \(1 short\)/);
    wire(() => tcp.TcpPacket.checked(Buffer.from(SYN), 0, 32), /40-byte header, the segment is 32 bytes \(8 short\)/);
    const off3 = Buffer.from(SYN); off3[12] = 0x30;
    wire(() => tcp.TcpPacket.checked(off3, 0, 40), /data offset is 3 \(12 bytes\)/);
  });
});
