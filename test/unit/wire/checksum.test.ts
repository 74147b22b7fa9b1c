import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIpv4 } from '../../../src/wire/addr';
import * as csum from '../../../src/wire/checksum';

describe('checksum (RFC 1071)', () => {
  it('matches the worked example of RFC 1071 section 3', () => {
    // 00 01 f2 03 f4 f5 f6 f7: the sum of words is 0x2ddf0, folded 0xddf2.
    const buf = Buffer.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    assert.equal(csum.sum(buf, 0, buf.length), 0x2ddf0);
    assert.equal(csum.fold(csum.sum(buf, 0, buf.length)), 0xddf2);
    assert.equal(csum.checksum(buf, 0, buf.length), 0x220d);
  });

  it('pads an odd last byte with a zero low byte', () => {
    assert.equal(csum.sum(Buffer.from([0x12, 0x34, 0x56]), 0, 3), 0x1234 + 0x5600);
    assert.equal(csum.checksum(Buffer.from([0xff]), 0, 1), 0x00ff);
  });

  it('checks a well-known IPv4 header (checksum 0xb861)', () => {
    const hdr = Buffer.from('45000073000040004011b861c0a80001c0a800c7', 'hex');
    assert.equal(csum.verify(hdr, 0, hdr.length), true);
    hdr.writeUInt16BE(0, 10);
    assert.equal(csum.checksum(hdr, 0, hdr.length), 0xb861);
  });

  it('folds carries from large sums', () => {
    const ones = Buffer.alloc(65536 * 2, 0xff);
    assert.equal(csum.fold(csum.sum(ones, 0, ones.length)), 0xffff);
    assert.equal(csum.fold(0x1_0000_fffe), 0xffff);
  });

  it('continues from a partial sum, so pieces can be summed separately', () => {
    const buf = Buffer.from('0102030405060708090a', 'hex');
    assert.equal(csum.checksum(buf, 4, 6, csum.sum(buf, 0, 4)), csum.checksum(buf, 0, 10));
  });

  it('works on a slice with a non-zero byteOffset', () => {
    const slab = Buffer.alloc(40, 0x77).subarray(9);
    Buffer.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]).copy(slab, 3);
    assert.equal(csum.checksum(slab, 3, 8), 0x220d);
  });

  it('pseudoHeaderSumIpv4 reproduces the partial checksums the kernel left in the fixture', () => {
    // With checksum offload the kernel writes the folded pseudo-header sum in the
    // checksum field and lets the device finish it; the capture saw that value.
    const h1 = parseIpv4('192.168.95.1');
    const h2 = parseIpv4('192.168.95.2');
    const o1 = parseIpv4('10.50.1.0');
    const o2 = parseIpv4('10.50.2.1');
    assert.equal(csum.fold(csum.pseudoHeaderSumIpv4(h1, h2, 17, 114)), 0x3fd8); // frame 7, outer UDP
    assert.equal(csum.fold(csum.pseudoHeaderSumIpv4(o1, o2, 17, 22)), 0x178c); //  frame 26, inner UDP
    assert.equal(csum.fold(csum.pseudoHeaderSumIpv4(o1, o2, 6, 40)), 0x1793); //   frame 17, inner TCP SYN
  });
});
