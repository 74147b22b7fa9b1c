/**
 * ARP suppression and an address whose MAC changes (test/e2e/l2.test.ts,
 * test 11, found it end to end): a container replaced by one with the same
 * IP and another MAC. Its ordinary ARP requests cross the segment; RFC 826's
 * merge rule updates the pair the table holds, so the next request for the
 * address is answered with the new MAC, not the old one until ageing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryDatagramPort, MemoryFramePort } from '../../../src/io/fake';
import { L2ArpTable } from '../../../src/switch/l2-arp';
import { Switch } from '../../../src/switch/switch';
import * as arp from '../../../src/wire/arp';
import * as ethernet from '../../../src/wire/ethernet';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';
import { arpRequest } from '../../helpers/frames';

const VNI = 42;
const PORT = 4789;
const LOCAL_MAC = '02:00:00:00:01:01';
const OLD_MAC = '02:00:00:00:02:02';
const NEW_MAC = '02:00:00:00:02:99';
const V2 = '192.168.90.2';

function make() {
  const tap = new MemoryFramePort('vxtap0');
  const net = new MemoryDatagramPort({ writesUdpHeader: true });
  const sw = new Switch({ vni: VNI, tap, net, mtu: 1450, batchSize: 32, mode: 'l2', l2: { port: PORT }, acceptUnknownVteps: false });
  sw.floodList.add(parseIpv4(V2), PORT);
  sw.start();
  return { sw, tap, net };
}
const vxlanOf = (frame: Buffer) => Buffer.concat([Buffer.from([0x08, 0, 0, 0, VNI >> 16, (VNI >> 8) & 0xff, VNI & 0xff, 0]), frame]);
const fromV2 = (frame: Buffer) => ({ data: vxlanOf(frame), addr: V2, port: 50123 });

test('an ordinary ARP request from a known address with a new MAC updates the suppression table; the next answer carries the new MAC', () => {
  const { sw, tap, net } = make();
  net.inject([fromV2(arpRequest(OLD_MAC, '10.0.0.2', '10.0.0.2'))]); // gratuitous: learned
  assert.equal(sw.l2Arp!.lookup(parseIpv4('10.0.0.2')), macKeyFromString(OLD_MAC));
  // The replaced owner asks for someone else: the sender's pair is merged.
  net.inject([fromV2(arpRequest(NEW_MAC, '10.0.0.2', '10.0.0.7'))]);
  assert.equal(sw.l2Arp!.lookup(parseIpv4('10.0.0.2')), macKeyFromString(NEW_MAC));
  tap.written.length = 0;
  net.sent.length = 0;
  tap.inject([arpRequest(LOCAL_MAC, '10.0.0.1', '10.0.0.2')]);
  assert.equal(net.sent.length, 0, 'answered locally');
  assert.equal(arp.senderMacKey(tap.written[0]!, ethernet.HEADER_LEN), macKeyFromString(NEW_MAC));
  assert.equal(sw.counters.snapshot().l2.arpSuppressed, 1);
});

test('L2ArpTable.merge updates a snooped entry only: it adds nothing and leaves a static entry alone', () => {
  const t = new L2ArpTable(4, 100);
  const ip = parseIpv4('10.0.0.2');
  assert.equal(t.merge(ip, macKeyFromString(NEW_MAC), 0), false, 'nothing to update');
  assert.equal(t.size, 0);
  t.snoop(ip, macKeyFromString(OLD_MAC), 0);
  assert.equal(t.merge(ip, macKeyFromString(NEW_MAC), 50), true);
  assert.equal(t.lookup(ip), macKeyFromString(NEW_MAC));
  assert.equal(t.ageOut(120), 0, 'the merge refreshed it');
  const pinned = parseIpv4('10.0.0.3');
  t.set(pinned, macKeyFromString(OLD_MAC), 0);
  assert.equal(t.merge(pinned, macKeyFromString(NEW_MAC), 60), false);
  assert.equal(t.lookup(pinned), macKeyFromString(OLD_MAC));
});
