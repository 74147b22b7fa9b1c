/**
 * The VTEP installer over the switch's real flood list and FDB: what the
 * control plane's events do to the tables of an L2 node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Fdb } from '../../../src/switch/fdb';
import { FloodList } from '../../../src/switch/flood-list';
import { VtepInstaller } from '../../../src/control/vtep-installer';
import type { Vtep } from '../../../src/control/l2-network';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';

const log = pino({ level: 'silent' });
const A: Vtep = { publicIp: '192.168.90.2', port: 4789, vtepMac: null, macs: [] };
const B: Vtep = { publicIp: '192.168.90.3', port: 4789, vtepMac: '02:76:c0:a8:5a:03', macs: ['aa:bb:cc:00:00:03'] };

function tables(): { floodList: FloodList; fdb: Fdb } {
  return { floodList: new FloodList(4789), fdb: new Fdb({ max: 100, ageingMs: 300_000 }) };
}

test('added: each VTEP joins the flood list; its pinned MACs are static FDB entries', () => {
  const sw = tables();
  const inst = new VtepInstaller(sw, log);
  inst.apply([{ type: 'added', vtep: A }, { type: 'added', vtep: B }]);
  assert.equal(sw.floodList.size, 2);
  assert.ok(sw.floodList.has(parseIpv4('192.168.90.2')) && sw.floodList.has(parseIpv4('192.168.90.3')));
  const e = sw.fdb.lookup(macKeyFromString('aa:bb:cc:00:00:03'));
  assert.equal(e?.kind, 'static');
  assert.equal(e?.vtep, parseIpv4('192.168.90.3'));
  assert.deepEqual(inst.vteps.map((v) => v.publicIp), ['192.168.90.2', '192.168.90.3']);
});

test('removed: the VTEP leaves the flood list, its pinned MACs go, and so does every MAC learned behind it; others stay', () => {
  const sw = tables();
  const inst = new VtepInstaller(sw, log);
  inst.apply([{ type: 'added', vtep: A }, { type: 'added', vtep: B }]);
  const now = Date.now();
  sw.fdb.learn(macKeyFromString('02:00:00:00:01:01'), parseIpv4(B.publicIp), 4789, now);
  sw.fdb.learn(macKeyFromString('02:00:00:00:01:02'), parseIpv4(B.publicIp), 4789, now);
  sw.fdb.learn(macKeyFromString('02:00:00:00:02:01'), parseIpv4(A.publicIp), 4789, now);
  inst.apply([{ type: 'removed', vtep: B }]);
  assert.equal(sw.floodList.size, 1);
  assert.equal(sw.floodList.has(parseIpv4(B.publicIp)), false);
  assert.equal(sw.fdb.lookup(macKeyFromString('aa:bb:cc:00:00:03')), undefined);
  assert.equal(sw.fdb.lookup(macKeyFromString('02:00:00:00:01:01')), undefined);
  assert.equal(sw.fdb.lookup(macKeyFromString('02:00:00:00:01:02')), undefined);
  assert.equal(sw.fdb.lookup(macKeyFromString('02:00:00:00:02:01'))?.vtep, parseIpv4(A.publicIp), 'a MAC behind another VTEP stays');
  // Removing one that is not there changes nothing.
  inst.apply([{ type: 'removed', vtep: B }]);
  assert.equal(sw.floodList.size, 1);
});

test('a VTEP on another UDP port than the segment, or with a bad address, is refused with its reason and nothing changes', () => {
  const sw = tables();
  const inst = new VtepInstaller(sw, log);
  inst.apply([{ type: 'added', vtep: { ...A, port: 4790 } }, { type: 'added', vtep: { ...A, publicIp: '192.168.90.300' } }]);
  assert.equal(sw.floodList.size, 0);
  assert.match(inst.failed.get('192.168.90.2') ?? '', /port 4790.*segment uses 4789/);
  assert.match(inst.failed.get('192.168.90.300') ?? '', /not an IPv4 or IPv6 address/);
  assert.equal(inst.vteps.length, 0);
  // Fixed, it is taken and no longer failed.
  inst.apply([{ type: 'added', vtep: A }]);
  assert.equal(sw.floodList.size, 1);
  assert.equal(inst.failed.has('192.168.90.2'), false);
});

test('a VTEP added again with other pinned MACs replaces the old ones', () => {
  const sw = tables();
  const inst = new VtepInstaller(sw, log);
  inst.apply([{ type: 'added', vtep: B }]);
  inst.apply([{ type: 'added', vtep: { ...B, macs: ['aa:bb:cc:00:00:04'] } }]);
  assert.equal(sw.fdb.lookup(macKeyFromString('aa:bb:cc:00:00:03')), undefined);
  assert.equal(sw.fdb.lookup(macKeyFromString('aa:bb:cc:00:00:04'))?.kind, 'static');
  assert.equal(sw.floodList.size, 1);
});

test('a VTEP that leaves removes only the pinned MACs still its own: one another VTEP pinned since stays', () => {
  const sw = tables();
  const inst = new VtepInstaller(sw, log);
  const M = 'aa:bb:cc:00:00:0a';
  inst.apply([{ type: 'added', vtep: { ...A, macs: [M] } }]);
  inst.apply([{ type: 'added', vtep: { ...B, macs: [M] } }]); // B pins M too: it is behind B now
  assert.equal(sw.fdb.lookup(macKeyFromString(M))?.vtep, parseIpv4(B.publicIp));
  inst.apply([{ type: 'removed', vtep: { ...A, macs: [M] } }]);
  const e = sw.fdb.lookup(macKeyFromString(M));
  assert.equal(e?.kind, 'static');
  assert.equal(e?.vtep, parseIpv4(B.publicIp), 'B\'s pin survives A leaving');
});
