import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fixturePath } from '../helpers/fixtures';
import { WireError } from '../../src/errors';
import * as pcap from '../../src/io/pcap';

const FIXTURE = fixturePath('kernel-vxlan-vni42.pcap');

// The file header tcpdump wrote for the fixture: little-endian, microseconds, 2.4, snaplen 262144, Ethernet.
const FIXTURE_HEADER = [
  0xd4, 0xc3, 0xb2, 0xa1, // magic 0xa1b2c3d4, little-endian
  0x02, 0x00, 0x04, 0x00, // version 2.4
  0x00, 0x00, 0x00, 0x00, // thiszone
  0x00, 0x00, 0x00, 0x00, // sigfigs
  0x00, 0x00, 0x04, 0x00, // snaplen 262144
  0x01, 0x00, 0x00, 0x00, // LINKTYPE_ETHERNET
];

const wire = (f: () => unknown, re: RegExp): void => {
  assert.throws(f, (e: unknown) => e instanceof WireError && re.test(e.message));
};

describe('pcap', () => {
  it('reads the fixture file', () => {
    const buf = readFileSync(FIXTURE);
    assert.deepEqual([...buf.subarray(0, 24)], FIXTURE_HEADER);
    const f = pcap.readPcap(buf);
    assert.equal(f.linktype, pcap.LINKTYPE_ETHERNET);
    assert.equal(f.snaplen, 262144);
    assert.equal(f.nanosecond, false);
    assert.equal(f.records.length, 27);
    const first = f.records[0]!;
    assert.equal(first.tsSec, 1795473356);
    assert.equal(first.tsUsec, 158291);
    assert.equal(first.origLen, 140);
    assert.equal(first.data.length, 140);
    assert.equal(first.data.subarray(0, 6).toString('hex'), 'fe4dbb95dd46');
    // Records are sub-slices of the input, not copies.
    assert.equal(first.data.buffer, buf.buffer);
    assert.deepEqual(f.records.map((r) => r.origLen).slice(4, 8), [92, 92, 148, 148]);
    assert.equal(f.records.reduce((n, r) => n + 16 + r.data.length, 24), buf.length);
  });

  it('writes a file header and record headers that read back', () => {
    const hdr = pcap.pcapFileHeader();
    assert.deepEqual([...hdr], [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0]);
    assert.deepEqual(pcap.pcapFileHeader(1, 262144), Buffer.from(FIXTURE_HEADER));
    const rec = pcap.pcapRecordHeader(1795473356, 158291, 3, 140);
    assert.deepEqual([...rec], [0xcc, 0xbf, 0x04, 0x6b, 0x53, 0x6a, 0x02, 0x00, 3, 0, 0, 0, 0x8c, 0, 0, 0]);
    const file = Buffer.concat([hdr, rec, Buffer.from([1, 2, 3]), pcap.pcapRecordHeader(5, 6, 0, 0)]);
    const f = pcap.readPcap(file);
    assert.equal(f.snaplen, 65535);
    assert.deepEqual(f.records.map((r) => ({ ...r, data: [...r.data] })), [
      { tsSec: 1795473356, tsUsec: 158291, origLen: 140, data: [1, 2, 3] },
      { tsSec: 5, tsUsec: 6, origLen: 0, data: [] },
    ]);
  });

  it('rewrites the fixture byte for byte from what it read', () => {
    const buf = readFileSync(FIXTURE);
    const f = pcap.readPcap(buf);
    const out = Buffer.concat([
      pcap.pcapFileHeader(f.linktype, f.snaplen),
      ...f.records.flatMap((r) => [pcap.pcapRecordHeader(r.tsSec, r.tsUsec, r.data.length, r.origLen), r.data]),
    ]);
    assert.deepEqual(out, buf);
  });

  it('writePcapRecordHeader writes into a caller buffer at an offset', () => {
    const slab = Buffer.alloc(40, 0xee).subarray(3);
    assert.equal(pcap.writePcapRecordHeader(slab, 5, 1, 2, 3, 4), 16);
    assert.equal(slab.subarray(5, 21).toString('hex'), '01000000020000000300000004000000');
    assert.equal(slab[4], 0xee);
  });

  it('reads big-endian and nanosecond files', () => {
    const be = Buffer.from([
      0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 1,
      0, 0, 0, 10, 0x3b, 0x9a, 0xc9, 0xff, 0, 0, 0, 2, 0, 0, 0, 60, 0xab, 0xcd, // 999999999 ns
    ]);
    const f = pcap.readPcap(be);
    assert.equal(f.nanosecond, true);
    assert.equal(f.linktype, 1);
    assert.deepEqual(f.records.map((r) => [r.tsSec, r.tsUsec, r.origLen, r.data.toString('hex')]), [[10, 999999, 60, 'abcd']]);
  });

  it('refuses what it cannot read, saying why', () => {
    wire(() => pcap.readPcap(Buffer.alloc(10)), /10 bytes, the file header needs 24 \(14 short\)/);
    wire(() => pcap.readPcap(Buffer.from([0x0a, 0x0d, 0x0d, 0x0a, ...new Array<number>(28).fill(0)])), /pcapng.*editcap -F pcap/);
    wire(() => pcap.readPcap(Buffer.alloc(24)), /not a pcap file: magic 0x00000000/);
    const v1 = pcap.pcapFileHeader(); v1[4] = 1;
    wire(() => pcap.readPcap(v1), /version 1\.4 is not supported/);
    const hdr = pcap.pcapFileHeader();
    wire(() => pcap.readPcap(Buffer.concat([hdr, Buffer.alloc(10)])), /record 1 at offset 24: header needs 16 bytes, 10 left \(6 short\)/);
    const cut = Buffer.concat([hdr, pcap.pcapRecordHeader(0, 0, 100, 100), Buffer.alloc(60)]);
    wire(() => pcap.readPcap(cut), /record 1 at offset 24: captured length 100, 60 bytes left \(40 short\)/);
  });
});
