/**
 * The pcapng codec (io/pcapng.ts): each block against golden bytes written
 * by hand from draft-ietf-opsawg-pcapng, read back, and a file of them
 * opened by tshark (interface names, comments, direction flags).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WireError } from '../../../src/errors';
import * as ng from '../../../src/io/pcapng';
import { fixturePath } from '../../helpers/fixtures';
import { needCommand } from '../../helpers/netns';

const hex = (s: string): Buffer => Buffer.from(s.replace(/[\s|]/g, ''), 'hex');

// SHB, no options: type, length 28, byte-order magic, version 1.0, section length -1, length again.
const SHB = hex('0a0d0d0a 1c000000 4d3c2b1a 0100 0000 ffffffff ffffffff 1c000000');
// IDB "tap0": type 1, length 40, LINKTYPE_ETHERNET, reserved, snaplen 65535,
// if_name (2) "tap0", if_tsresol (9) 6 padded, opt_endofopt, length again.
const IDB = hex('01000000 28000000 0100 0000 ffff0000 | 0200 0400 74617030 | 0900 0100 06000000 | 00000000 | 28000000');
// EPB: type 6, length 56, interface 1, timestamp 0x1_00000002 µs, captured 3, original 5,
// data aa bb cc + 1 byte pad, opt_comment (1) "hi", epb_flags (2) = 2 (outbound), opt_endofopt, length again.
const EPB = hex('06000000 38000000 01000000 01000000 02000000 03000000 05000000 aabbcc00 | 0100 0200 68690000 | 0200 0400 02000000 | 00000000 | 38000000');
// The same packet without options: no flags, no comment, no opt_endofopt.
const EPB_BARE = hex('06000000 24000000 00000000 00000000 07000000 02000000 02000000 01020000 24000000');

test('golden bytes: Section Header, Interface Description, Enhanced Packet', () => {
  assert.deepEqual(ng.sectionHeader(), SHB);
  assert.deepEqual(ng.interfaceDescription({ linktype: 1, snaplen: 65535, name: 'tap0', tsresol: 6 }), IDB);
  assert.deepEqual(ng.enhancedPacket(1, 0x1_0000_0002, Uint8Array.of(0xaa, 0xbb, 0xcc), 5, ng.DIR_OUTBOUND, 'hi'), EPB);
  assert.deepEqual(ng.enhancedPacket(0, 7, Uint8Array.of(1, 2)), EPB_BARE);
  assert.equal(ng.epbLen(3, true, 2), EPB.length);
  assert.equal(ng.epbLen(2, false, 0), EPB_BARE.length);
});

test('writeEpbHead / writeEpbTail write in place, at an offset, and give the length epbLen said', () => {
  const c = Buffer.from('hi');
  const total = ng.epbLen(3, true, c.length);
  const slab = Buffer.alloc(8 + total, 0xee);
  const data = ng.writeEpbHead(slab, 8, total, 1, 0x1_0000_0002, 3, 5);
  assert.equal(data, 8 + ng.epbField.DATA);
  slab.set([0xaa, 0xbb, 0xcc], data);
  assert.equal(ng.writeEpbTail(slab, 8, 3, ng.DIR_OUTBOUND, c), total);
  assert.deepEqual(slab.subarray(8), EPB);
  assert.deepEqual(slab.subarray(0, 8), Buffer.alloc(8, 0xee), 'nothing before the block is touched');
});

test('readPcapng reads the blocks back: interfaces with names and resolution, packets with flags and comments', () => {
  const idb0 = ng.interfaceDescription({ linktype: 1, snaplen: 65535, name: 'vxtap.42' });
  const idb1 = ng.interfaceDescription({ linktype: 1, snaplen: 2000, name: 'eth0', description: "vxtap's UDP socket on 10.0.0.1:4789" });
  const f = ng.readPcapng(Buffer.concat([ng.sectionHeader('vxtap'), idb0, idb1, EPB, EPB_BARE]));
  assert.deepEqual(f.interfaces, [
    { linktype: 1, snaplen: 65535, name: 'vxtap.42', description: null, tsresol: 6 },
    { linktype: 1, snaplen: 2000, name: 'eth0', description: "vxtap's UDP socket on 10.0.0.1:4789", tsresol: 6 },
  ]);
  assert.equal(f.packets.length, 2);
  const [p, q] = f.packets;
  assert.deepEqual({ ...p!, data: [...p!.data] }, {
    iface: 1, tsSec: Math.floor(0x1_0000_0002 / 1e6), tsUsec: 0x1_0000_0002 % 1e6, origLen: 5, data: [0xaa, 0xbb, 0xcc], comment: 'hi', flags: ng.DIR_OUTBOUND,
  });
  assert.deepEqual({ ...q!, data: [...q!.data] }, { iface: 0, tsSec: 0, tsUsec: 7, origLen: 2, data: [1, 2], comment: null, flags: null });
});

test('readPcapng: big-endian sections, nanosecond resolution, unknown blocks skipped', () => {
  // A big-endian SHB, an IDB with if_tsresol 9, an unknown block (type 0x0bad), an EPB at 1.5 s.
  const shb = hex('0a0d0d0a 0000001c 1a2b3c4d 0001 0000 ffffffff ffffffff 0000001c');
  const idb = hex('00000001 00000020 0001 0000 0000ffff | 0009 0001 09000000 | 00000000 | 00000020');
  const unknown = hex('00000bad 00000010 01020304 00000010');
  const epb = hex('00000006 00000024 00000000 00000000 59682f00 00000001 00000001 7f000000 00000024');
  const f = ng.readPcapng(Buffer.concat([shb, idb, unknown, epb]));
  assert.deepEqual(f.interfaces, [{ linktype: 1, snaplen: 65535, name: null, description: null, tsresol: 9 }]);
  assert.equal(f.packets.length, 1);
  assert.deepEqual([f.packets[0]!.tsSec, f.packets[0]!.tsUsec, [...f.packets[0]!.data]], [1, 500000, [0x7f]]);
});

test('readPcapng refuses what is not pcapng, cut short, or inconsistent, with where', () => {
  const bad = (b: Buffer, re: RegExp): void => assert.throws(() => ng.readPcapng(b), (e: unknown) => e instanceof WireError && re.test(e.message));
  bad(Buffer.alloc(24), /not a pcapng file/);
  bad(Buffer.concat([SHB, IDB.subarray(0, 20)]), /block at offset 28: length 40, 20 bytes left \(20 short\)/);
  const trail = Buffer.from(IDB); trail.writeUInt32LE(44, 36);
  bad(Buffer.concat([SHB, trail]), /trailing length 44 differs from the leading 40/);
  bad(Buffer.concat([SHB, EPB]), /interface 1 was not described/);
});

test('readCapture reads classic pcap (the fixtures) and pcapng alike', () => {
  const classic = ng.readCapture(readFileSync(fixturePath('kernel-vxlan-vni42.pcap')));
  assert.equal(classic.interfaces.length, 1);
  assert.equal(classic.interfaces[0]!.name, null);
  assert.ok(classic.packets.length > 0 && classic.packets.every((p) => p.iface === 0 && p.comment === null && p.flags === null));
  const f = ng.readCapture(Buffer.concat([SHB, IDB, IDB, EPB]));
  assert.equal(f.packets[0]!.comment, 'hi');
});

test('tshark reads a file of these blocks: interface names, comments and directions', (t) => {
  if (!needCommand(t, 'tshark', 'tshark')) return;
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-pcapng-'));
  try {
    const file = join(dir, 'a.pcapng');
    const eth = hex('ffffffffffff 020000000001 0806');
    writeFileSync(file, Buffer.concat([
      ng.sectionHeader('vxtap test'),
      ng.interfaceDescription({ linktype: 1, snaplen: 65535, name: 'vxtap.42' }),
      ng.interfaceDescription({ linktype: 1, snaplen: 65535, name: 'eth0', description: 'the underlay' }),
      ng.enhancedPacket(0, 1_700_000_000_123_456, eth, eth.length, ng.DIR_OUTBOUND),
      ng.enhancedPacket(1, 1_700_000_000_123_457, eth, eth.length, ng.DIR_INBOUND, 'reconstructed by a test'),
    ]));
    const out = execFileSync('tshark', ['-n', '-r', file, '-T', 'fields', '-E', 'separator=|',
      '-e', 'frame.interface_name', '-e', 'frame.interface_description', '-e', 'frame.packet_flags_direction', '-e', 'frame.comment', '-e', 'frame.time_epoch'],
    { encoding: 'utf8' }).trim().split('\n').map((l) => l.split('|'));
    assert.equal(out.length, 2);
    // tshark prints the direction bits as hex (0x00000002): 2 outbound, 1 inbound.
    const rows = out.map((r) => [r[0], r[1], Number(r[2]), r[3]]);
    assert.deepEqual(rows[0], ['vxtap.42', '', ng.DIR_OUTBOUND, '']);
    assert.deepEqual(rows[1], ['eth0', 'the underlay', ng.DIR_INBOUND, 'reconstructed by a test']);
    assert.match(out[0]![4]!, /^1700000000\.123456/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readPcapng: a block whose total length is smaller than its fixed fields is a WireError (VXTAP_ERR_WIRE), not a RangeError', () => {
  const bad = (b: Buffer, re: RegExp): void => assert.throws(() => ng.readPcapng(b), (e: unknown) => e instanceof WireError && e.code === 'VXTAP_ERR_WIRE' && re.test(e.message), re.source);
  // A Section Header of 20 bytes: type, length, byte order, version, trailing length (no section length).
  bad(hex('0a0d0d0a 14000000 4d3c2b1a 0100 0000 14000000'), /Section Header Block at offset 0: total length 20 is shorter than its fixed fields \(at least 28\)/);
  // An Enhanced Packet of 16 bytes at the end of the file: its captured length would be read past the buffer.
  bad(Buffer.concat([SHB, IDB, hex('06000000 10000000 00000000 10000000')]), /Enhanced Packet Block at offset 68: total length 16 is shorter than its fixed fields \(at least 32\)/);
  // An Interface Description of 12 bytes.
  bad(Buffer.concat([SHB, hex('01000000 0c000000 0c000000')]), /Interface Description Block at offset 28: total length 12 is shorter than its fixed fields \(at least 20\)/);
});
