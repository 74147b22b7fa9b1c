/**
 * VTEP keys (src/io/vtep-key.ts): one number per VTEP address, IPv4 or
 * IPv6, and the AF_INET6 records the endpoint table writes for IPv6 keys
 * (golden bytes: struct sockaddr_in6), read back by the decap's key lookup.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AF_INET6, EP_RECORD, EndpointTable, describeRecord, recordFamily, recordPort, wordsVtepKey } from '../../../src/io/endpoints';
import { FrameBatch } from '../../../src/io/port';
import { formatVtep, formatVtepPort, isV6Key, V6_KEY_BASE, V6_UNKNOWN, vtepKey } from '../../../src/io/vtep-key';
import { parseIpv4 } from '../../../src/wire/addr';

test('vtep-key: an IPv4 VTEP key is its u32, as before IPv6', () => {
  assert.equal(vtepKey('192.168.90.2'), parseIpv4('192.168.90.2'));
  assert.equal(isV6Key(vtepKey('255.255.255.255')), false);
  assert.equal(formatVtep(parseIpv4('10.0.0.1')), '10.0.0.1');
});

test('vtep-key: an IPv6 key is stable per address, whatever its spelling, and formats back in RFC 5952', () => {
  const a = vtepKey('fd00:0:0:0::2');
  assert.ok(a >= V6_KEY_BASE);
  assert.equal(vtepKey('fd00::2'), a);
  assert.equal(vtepKey('FD00::0002'), a);
  assert.notEqual(vtepKey('fd00::3'), a);
  assert.equal(formatVtep(a), 'fd00::2');
  assert.equal(formatVtepPort(a, 4789), '[fd00::2]:4789');
  assert.throws(() => vtepKey('fd00::2%eth0'), RangeError);
  assert.throws(() => vtepKey('nope'), RangeError);
});

test('vtep-key: the endpoint table writes struct sockaddr_in6 for an IPv6 key (golden bytes), and releases it', () => {
  const t = new EndpointTable(2);
  const key = vtepKey('fd00::1:2');
  const i = t.intern(key, 4789);
  const rec = t.buf.subarray(i * EP_RECORD, (i + 1) * EP_RECORD);
  // AF_INET6 = 10 little-endian, port 0x12b5, flowinfo 0, fd00::1:2, scope id 0.
  assert.deepEqual([...rec], [0x0a, 0x00, 0x12, 0xb5, 0, 0, 0, 0,
    0xfd, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0, 0x02, 0, 0, 0, 0]);
  assert.equal(recordFamily(t.buf, i * EP_RECORD), AF_INET6);
  assert.equal(recordPort(t.buf, i * EP_RECORD), 4789);
  assert.equal(describeRecord(t.buf, i * EP_RECORD), '[fd00:0:0:0:0:0:1:2]:4789');
  assert.equal(t.key(i), key);
  assert.equal(t.intern(key, 4789), i, 'the same key:port, the same index');
  assert.equal(t.find(key, 4789), i);
  // Grows past its capacity with both families in it.
  const j = t.intern(parseIpv4('10.0.0.1'), 4789);
  const k = t.intern(vtepKey('fd00::9'), 4789);
  assert.deepEqual(new Set([i, j, k]).size, 3);
  assert.equal(t.key(i), key);
  t.release(i);
  t.release(i);
  assert.equal(t.find(key, 4789), -1);
  assert.equal(recordFamily(t.buf, i * EP_RECORD), 0);
});

test('vtep-key: the decap reads an IPv6 sender record back to its key, and an unnamed one to V6_UNKNOWN', () => {
  const t = new EndpointTable();
  const key = vtepKey('fd00::77');
  const i = t.intern(key, 4789);
  const b = new FrameBatch(3, 64, 16);
  t.buf.copy(b.names, 0, i * EP_RECORD, (i + 1) * EP_RECORD);
  const other = new EndpointTable();
  const o = other.intern(vtepKey('fd00::78'), 4789);
  other.buf.copy(b.names, EP_RECORD, o * EP_RECORD, (o + 1) * EP_RECORD);
  // A record with an address no configuration named: built by hand.
  b.names.writeUInt16LE(AF_INET6, 2 * EP_RECORD);
  b.names[2 * EP_RECORD + 8] = 0x20;
  b.names[2 * EP_RECORD + 9] = 0x01;
  assert.equal(wordsVtepKey(b.names32, 0), key);
  assert.equal(b.senderKey(0), key);
  assert.equal(wordsVtepKey(b.names32, 1), vtepKey('fd00::78'));
  assert.equal(wordsVtepKey(b.names32, 2), V6_UNKNOWN);
  assert.equal(formatVtep(V6_UNKNOWN), '?');
});
