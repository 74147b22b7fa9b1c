/**
 * The endpoint table (src/io/endpoints.ts): records with golden bytes (the
 * kernel's sockaddr_in layout), interning with reference counts, index
 * reuse, growth. test/io/endpoints.test.ts holds the layout to the addon's
 * (native/endpoints.h) and sends to records through the kernel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AF_INET, EP_RECORD, EndpointTable, describeRecord, recordFamily, recordIpv4, recordPort, wordsIpv4, writeIpv4Record,
} from '../../../src/io/endpoints';
import { FrameBatch, SendList } from '../../../src/io/port';
import { parseIpv4 } from '../../../src/wire/addr';

test('endpoints: an AF_INET record is struct sockaddr_in in 28 bytes (family host order, port and address network order)', () => {
  const buf = Buffer.alloc(EP_RECORD, 0xee);
  writeIpv4Record(buf, 0, parseIpv4('192.168.90.2'), 4789);
  // Golden bytes: AF_INET = 2 little-endian, 4789 = 0x12b5, 192.168.90.2, then zeros.
  assert.deepEqual([...buf], [0x02, 0x00, 0x12, 0xb5, 0xc0, 0xa8, 0x5a, 0x02, ...new Array<number>(20).fill(0)]);
  assert.equal(recordFamily(buf, 0), AF_INET);
  assert.equal(recordIpv4(buf, 0), parseIpv4('192.168.90.2'));
  assert.equal(recordPort(buf, 0), 4789);
  assert.equal(describeRecord(buf, 0), '192.168.90.2:4789');
  assert.equal(describeRecord(Buffer.alloc(EP_RECORD), 0), '-', 'an empty record');
  const v6 = Buffer.alloc(EP_RECORD);
  v6.writeUInt16LE(10, 0);
  v6.writeUInt16BE(4789, 2);
  v6.writeUInt16BE(0xfd00, 8);
  v6.writeUInt16BE(2, 22);
  assert.equal(describeRecord(v6, 0), '[fd00:0:0:0:0:0:0:2]:4789', 'the AF_INET6 layout the next issue will write');
});

test('endpoints: intern() gives one index per address:port, counted; release() frees it on the last reference, and it is reused', () => {
  const t = new EndpointTable(2);
  const a = t.intern(parseIpv4('10.0.0.1'), 4789);
  const b = t.intern(parseIpv4('10.0.0.2'), 4789);
  const c = t.intern(parseIpv4('10.0.0.1'), 8472);
  assert.deepEqual([a, b, c], [0, 1, 2], 'another port is another endpoint; the table grew past 2');
  assert.equal(t.capacity, 4);
  assert.equal(t.intern(parseIpv4('10.0.0.1'), 4789), a);
  assert.equal(t.refCount(a), 2);
  assert.equal(t.size, 3);
  assert.equal(t.describe(c), '10.0.0.1:8472');
  assert.equal(t.ipv4(b), parseIpv4('10.0.0.2'));
  assert.equal(t.port(b), 4789);
  t.release(a);
  assert.equal(t.find(parseIpv4('10.0.0.1'), 4789), a, 'one reference left');
  t.release(a);
  assert.equal(t.find(parseIpv4('10.0.0.1'), 4789), -1);
  assert.equal(t.family(a), 0, 'a freed record is cleared');
  assert.throws(() => t.release(a), /not held/);
  assert.equal(t.intern(parseIpv4('10.0.0.9'), 4789), a, 'the freed index is reused');
  assert.throws(() => t.intern(-1, 4789), RangeError);
  assert.throws(() => t.intern(1, 65536), RangeError);
});

test('endpoints: a FrameBatch keeps each sender as a record; a SendList resolves entries through its table', () => {
  const b = new FrameBatch(2, 256, 64);
  b.setSender(1, parseIpv4('192.168.90.3'), 51234);
  assert.equal(b.senderIpv4(1), parseIpv4('192.168.90.3'));
  assert.equal(b.senderPort(1), 51234);
  assert.equal(b.names.length, 2 * EP_RECORD);
  assert.equal(recordFamily(b.names, 0), 0, 'a slot nobody filled');
  const list = new SendList(2);
  list.pushAddr(0, 10, parseIpv4('192.168.90.2'), 4789, 50000);
  list.push(0, 10, list.eps[0]!, 50001);
  assert.deepEqual([list.addr(1), list.port(1), list.srcPorts[1]], [parseIpv4('192.168.90.2'), 4789, 50001]);
  assert.equal(list.endpoints.size, 1);
});

test('endpoints: the word read of a record\'s address (the decap\'s) is the byte read\'s', () => {
  const b = new FrameBatch(3, 256, 64);
  for (const [i, ip] of [[0, '192.168.90.2'], [1, '10.0.0.255'], [2, '255.1.2.128']] as const) {
    b.setSender(i, parseIpv4(ip), 4789);
    assert.equal(wordsIpv4(b.names32, i), parseIpv4(ip));
    assert.equal(wordsIpv4(b.names32, i), b.senderIpv4(i));
  }
});
