import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffPeers, macFromIp, type Peer } from '../../../src/control/peers';

const p2: Peer = { subnet: '10.44.2.0/24', publicIp: '192.168.90.2', vtepMac: '02:76:c0:a8:5a:02' };
const p3: Peer = { subnet: '10.44.3.0/24', publicIp: '192.168.90.3', vtepMac: '02:76:c0:a8:5a:03' };
const p4: Peer = { subnet: '10.44.4.0/24', publicIp: '192.168.90.4', vtepMac: '02:76:c0:a8:5a:04' };

test('macFromIp: 02:76 + the IPv4 octets in hex, lower-case', () => {
  assert.equal(macFromIp('192.168.90.2'), '02:76:c0:a8:5a:02');
  assert.equal(macFromIp('10.0.0.1'), '02:76:0a:00:00:01');
  assert.equal(macFromIp('255.255.255.254'), '02:76:ff:ff:ff:fe');
});

test('macFromIp: locally administered, unicast', () => {
  const first = parseInt(macFromIp('1.2.3.4').slice(0, 2), 16);
  assert.equal(first & 0b10, 0b10, 'locally administered bit');
  assert.equal(first & 0b01, 0, 'multicast bit');
});

test('macFromIp: not an IPv4 address throws', () => {
  assert.throws(() => macFromIp('1.2.3'), /not an IPv4 address/);
});

test('diffPeers: nothing changed, nothing to do', () => {
  assert.deepEqual(diffPeers([p2, p3], [p3, p2]), []);
  assert.deepEqual(diffPeers([], []), []);
});

test('diffPeers: added and removed', () => {
  assert.deepEqual(diffPeers([p2, p3], [p3, p4]), [
    { type: 'removed', peer: p2 },
    { type: 'added', peer: p4 },
  ]);
  assert.deepEqual(diffPeers([], [p2, p3]), [{ type: 'added', peer: p2 }, { type: 'added', peer: p3 }]);
  assert.deepEqual(diffPeers([p2, p3], []), [{ type: 'removed', peer: p2 }, { type: 'removed', peer: p3 }]);
});

test('diffPeers: a new MAC for the same subnet is removed(old) then added(new)', () => {
  const moved: Peer = { ...p2, vtepMac: '02:00:00:00:00:99' };
  assert.deepEqual(diffPeers([p2, p3], [moved, p3]), [
    { type: 'removed', peer: p2 },
    { type: 'added', peer: moved },
  ]);
});

test('diffPeers: a new public IP for the same subnet is removed(old) then added(new)', () => {
  const moved: Peer = { ...p2, publicIp: '192.168.90.20' };
  assert.deepEqual(diffPeers([p2], [moved]), [
    { type: 'removed', peer: p2 },
    { type: 'added', peer: moved },
  ]);
});

test('diffPeers: MAC case does not count as a change', () => {
  assert.deepEqual(diffPeers([p2], [{ ...p2, vtepMac: p2.vtepMac.toUpperCase() }]), []);
});
