/**
 * What the switch's tables hold of the endpoint table (io/endpoints.ts):
 * each FDB entry and each flood-list VTEP one reference to its VTEP's
 * index, taken when it is made and given back when it goes (deleted, aged
 * out, moved, replaced, removed), so that the table holds exactly the VTEPs
 * something can send to, and an encap pushes the entry's index.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EndpointTable } from '../../../src/io/endpoints';
import { MemoryDatagramPort, MemoryFramePort } from '../../../src/io/fake';
import { SendList } from '../../../src/io/port';
import { ArpTable } from '../../../src/switch/arp-table';
import { Counters } from '../../../src/switch/counters';
import { Fdb, LEARN_MOVED, LEARN_NEW } from '../../../src/switch/fdb';
import { FloodList } from '../../../src/switch/flood-list';
import { Pipeline } from '../../../src/switch/pipeline';
import { Switch } from '../../../src/switch/switch';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';
import { batchOf, ipv4Frame } from '../../helpers/frames';

const A = macKeyFromString('02:76:c0:a8:5a:02');
const B = macKeyFromString('02:76:c0:a8:5a:03');
const V1 = parseIpv4('192.168.90.2');
const V2 = parseIpv4('192.168.90.3');

test('FDB: entries share their VTEP\'s index; a move, a replacement, a delete and ageing give their reference back', () => {
  const t = new EndpointTable();
  const fdb = new Fdb({ endpoints: t, ageingMs: 1000 });
  fdb.set(A, V1, 4789, 0);
  fdb.set(B, V1, 4789, 0);
  const ep = fdb.lookup(A)!.ep;
  assert.equal(fdb.lookup(B)!.ep, ep, 'one VTEP, one index');
  assert.equal(t.refCount(ep), 2);
  assert.equal(t.describe(ep), '192.168.90.2:4789');
  fdb.set(B, V2, 4789, 0); // replaced: B now behind V2
  assert.equal(t.refCount(ep), 1);
  assert.equal(t.describe(fdb.lookup(B)!.ep), '192.168.90.3:4789');
  fdb.delete(A);
  assert.equal(t.held(ep), false, 'no entry points at V1 any more');
  fdb.delete(B);
  assert.equal(t.size, 0);

  assert.equal(fdb.observe(A, V1, 4789, 0), LEARN_NEW);
  assert.equal(fdb.observe(A, V2, 4789, 10), LEARN_MOVED);
  assert.equal(t.find(V1, 4789), -1, 'the move released the old VTEP');
  assert.equal(t.refCount(fdb.lookup(A)!.ep), 1);
  assert.equal(fdb.ageOut(5000), 1);
  assert.equal(t.size, 0, 'ageing released it');
});

test('flood list: add interns, a port change re-interns, remove releases, and the moved-up VTEP keeps its index', () => {
  const t = new EndpointTable();
  const fl = new FloodList(null, 2, t);
  fl.add(V1, 4789);
  fl.add(V2, 4789);
  const e2 = fl.eps[1]!;
  fl.add(V1, 8472);
  assert.equal(t.describe(fl.eps[0]!), '192.168.90.2:8472');
  assert.equal(t.find(V1, 4789), -1);
  fl.remove(V1);
  assert.equal(fl.eps[0], e2, 'the last entry moved into the hole with its index');
  assert.equal(t.size, 1);
  fl.remove(V2);
  assert.equal(t.size, 0);
});

test('pipeline: encap pushes the FDB entry\'s index and points the send list at the FDB\'s table; L2 needs one table for FDB and flood list', () => {
  const fdb = new Fdb();
  const self = '02:00:00:00:00:01';
  const peer = '02:76:c0:a8:5a:02';
  fdb.set(macKeyFromString(peer), V1, 4789);
  const p = new Pipeline({ vni: 1, fdb, arp: new ArpTable(), counters: new Counters(), writesUdpHeader: true });
  const toNet = new SendList(4);
  p.encapBatch(batchOf([ipv4Frame(peer, self, '10.44.1.0', '10.44.2.0', 1, 0x0800, 1)]), toNet, new SendList(4));
  assert.equal(toNet.count, 1);
  assert.equal(toNet.endpoints, fdb.endpoints);
  assert.equal(toNet.eps[0], fdb.lookup(macKeyFromString(peer))!.ep);
  assert.throws(() => new Pipeline({
    vni: 1, fdb, arp: new ArpTable(), counters: new Counters(), writesUdpHeader: true,
    mode: 'l2', l2: { port: 4789, floodList: new FloodList(4789), arp: null },
  }), /share one endpoint table/);
});

test('switch: one endpoint table for its FDB and flood list', () => {
  const sw = new Switch({ vni: 1, tap: new MemoryFramePort(), net: new MemoryDatagramPort(), mtu: 1450, mode: 'l2', l2: { port: 4789 } });
  assert.equal(sw.fdb.endpoints, sw.endpoints);
  assert.equal(sw.floodList.endpoints, sw.endpoints);
  sw.floodList.add(V1, 4789);
  sw.fdb.set(A, V1, 4789);
  assert.equal(sw.endpoints.size, 1);
  assert.equal(sw.endpoints.refCount(sw.floodList.eps[0]!), 2);
  sw.close();
});
