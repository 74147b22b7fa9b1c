/** EtcdPeerSource against a real etcd: snapshot, events, compaction. (Outages: peer-source-outage.test.ts.) */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { encodeLease } from '../../../src/control/etcd/lease-codec';
import { EtcdPeerSource, type IgnoredLease, type PeerSourceStatus } from '../../../src/control/etcd/peer-source';
import { ctlPutWithLease, EtcdFixture, flannelLease, prefixCtx, type PrefixCtx, EtcdProxy, sleep, testClient, until } from '../../helpers/etcd';
import { line, PeerConsumer } from '../../helpers/peer-consumer';

const fx = new EtcdFixture();
after(() => fx.stop());


type Ctx = PrefixCtx;

const setup = (t: TestContext): Promise<Ctx | null> => prefixCtx(fx, t);

/** What etcd holds, as the consumer should: vxlan leases, not own, as sorted lines. */
async function etcdLines(c: Ctx, ownSubnet: string): Promise<string[]> {
  const res = await c.client.getAll().prefix(`${c.prefix}/subnets/`).exec();
  const out: string[] = [];
  for (const kv of res.kvs) {
    const key = kv.key.toString();
    const subnet = key.slice(key.lastIndexOf('/') + 1).replace('-', '/');
    if (subnet === ownSubnet) continue;
    try {
      const v = JSON.parse(kv.value.toString()) as { PublicIP: string; BackendType: string; BackendData: { VtepMAC: string } };
      if (v.BackendType === 'vxlan') out.push(line({ subnet, publicIp: v.PublicIP, vtepMac: v.BackendData.VtepMAC }));
    } catch { /* malformed: not a peer */ }
  }
  return out.sort();
}

test('peer source: snapshot has the vxlan peers only: not its own lease, not another backend, not a malformed one (reported once)', async (t) => {
  const c = await setup(t);
  if (!c) return;
  await ctlPutWithLease(c.etcd, c.key('10.44.2.0/24'), flannelLease('192.168.90.2', 'aa:bb:cc:dd:ee:02'), 60);
  await ctlPutWithLease(c.etcd, c.key('10.44.3.0/24'), flannelLease('192.168.90.3', 'AA:BB:CC:DD:EE:03'), 60);
  await c.client.put(c.key('10.44.1.0/24')).value(flannelLease('192.168.90.1', '02:00:00:00:00:01')); // own
  await c.client.put(c.key('10.44.4.0/24')).value('{"PublicIP":"192.168.90.4","BackendType":"host-gw"}');
  await c.client.put(c.key('10.44.5.0/24')).value('{"PublicIP":"192.168.90.5","BackendType":"vxlan"}');
  await c.client.put(`${c.prefix}/subnets/not-a-subnet`).value('x');
  const ignored: IgnoredLease[] = [];
  const src = c.use(new EtcdPeerSource(c.client, { prefix: c.prefix, own: { subnet: '10.44.1.0/24' }, onIgnored: (i) => ignored.push(i) }), (s) => s.close());
  const peers = await src.snapshot();
  assert.deepEqual(peers.map(line).sort(), ['10.44.2.0/24 192.168.90.2 aa:bb:cc:dd:ee:02', '10.44.3.0/24 192.168.90.3 aa:bb:cc:dd:ee:03']);
  assert.deepEqual(ignored.map((i) => `${i.key.slice(c.prefix.length)} ${i.reason}`).sort(), [
    '/subnets/10.44.4.0-24 backend', '/subnets/10.44.5.0-24 malformed', '/subnets/not-a-subnet malformed',
  ]);
  assert.ok(src.revision > 0);
});

test('peer source: add, same-data rewrite (nothing), MAC change (removed + added), delete and expiry (removed, the kept copy), each within 5 s', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const statuses: PeerSourceStatus[] = [];
  const src = c.use(new EtcdPeerSource(c.client, { prefix: c.prefix, own: { subnet: '10.44.1.0/24' }, onStatus: (s) => statuses.push(s) }), (s) => s.close());
  const consumer = new PeerConsumer(await src.snapshot());
  src.watch(consumer.onEvents);
  await until('connected', () => statuses.length > 0);
  assert.deepEqual(statuses.map((s) => s.state), ['connected']);

  await ctlPutWithLease(c.etcd, c.key('10.44.2.0/24'), flannelLease('192.168.90.2', 'aa:bb:cc:dd:ee:02'), 60);
  await until('the add', () => consumer.table.has('10.44.2.0/24'));
  assert.deepEqual(consumer.events(), ['added 10.44.2.0/24 192.168.90.2 aa:bb:cc:dd:ee:02']);

  // flannel's renewal: the same data put again on a new etcd lease. Not a change.
  await ctlPutWithLease(c.etcd, c.key('10.44.2.0/24'), flannelLease('192.168.90.2', 'aa:bb:cc:dd:ee:02'), 60);
  // The MAC changes (flannel restarted with a new VTEP).
  await c.client.put(c.key('10.44.2.0/24')).value(flannelLease('192.168.90.2', 'aa:bb:cc:dd:ee:22'));
  await until('the update', () => consumer.batches.length === 2);
  assert.deepEqual(consumer.batches[1]!.map((e) => `${e.type} ${line(e.peer)}`), [
    'removed 10.44.2.0/24 192.168.90.2 aa:bb:cc:dd:ee:02', 'added 10.44.2.0/24 192.168.90.2 aa:bb:cc:dd:ee:22',
  ]);

  // Delete: etcd says only the key; the removal carries the kept copy.
  await c.client.delete().key(c.key('10.44.2.0/24'));
  await until('the delete', () => !consumer.table.has('10.44.2.0/24'));
  assert.deepEqual(consumer.batches[2]!.map((e) => `${e.type} ${line(e.peer)}`), ['removed 10.44.2.0/24 192.168.90.2 aa:bb:cc:dd:ee:22']);

  // Expiry of a 2 s lease.
  await ctlPutWithLease(c.etcd, c.key('10.44.3.0/24'), flannelLease('192.168.90.3', 'aa:bb:cc:dd:ee:03'), 2);
  await until('the add', () => consumer.table.has('10.44.3.0/24'));
  const t0 = Date.now();
  await until('the expiry', () => !consumer.table.has('10.44.3.0/24'), 5000);
  assert.ok(Date.now() - t0 < 5000);
  assert.deepEqual(consumer.events().slice(-1), ['removed 10.44.3.0/24 192.168.90.3 aa:bb:cc:dd:ee:03']);

  // A lease turning into another backend is a removal; own lease never shows.
  await c.client.put(c.key('10.44.4.0/24')).value(flannelLease('192.168.90.4', 'aa:bb:cc:dd:ee:04'));
  await until('the add', () => consumer.table.has('10.44.4.0/24'));
  await c.client.put(c.key('10.44.4.0/24')).value('{"PublicIP":"192.168.90.4","BackendType":"wireguard"}');
  await c.client.put(c.key('10.44.1.0/24')).value(flannelLease('192.168.90.1', '02:00:00:00:00:01'));
  await until('the removal', () => !consumer.table.has('10.44.4.0/24'));
  await sleep(200);
  assert.deepEqual(consumer.problems, []);
  assert.deepEqual(consumer.lines(), await etcdLines(c, '10.44.1.0/24'));
  assert.deepEqual(statuses.map((s) => s.state), ['connected'], 'no status change without a reason');
});

test('peer source: the changes of one etcd transaction come as one batch', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const src = c.use(new EtcdPeerSource(c.client, { prefix: c.prefix }), (s) => s.close());
  const consumer = new PeerConsumer(await src.snapshot());
  src.watch(consumer.onEvents);
  await sleep(200);
  await c.client.if(c.key('10.44.9.0/24'), 'Create', '==', 0)
    .then(
      c.client.put(c.key('10.44.9.0/24')).value(encodeLease({ publicIp: '10.0.0.9', vtepMac: '02:00:00:00:00:09', vni: 1 })),
      c.client.put(c.key('10.44.8.0/24')).value(encodeLease({ publicIp: '10.0.0.8', vtepMac: '02:00:00:00:00:08', vni: 1 })),
    ).commit();
  await until('the batch', () => consumer.batches.length > 0);
  await sleep(100);
  assert.equal(consumer.batches.length, 1);
  assert.equal(consumer.batches[0]!.length, 2);
});

test('peer source: compaction past the watch revision: re-listed, only the difference is emitted (no duplicate adds)', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const put = (s: string, ip: string, mac: string): Promise<unknown> => c.client.put(c.key(s)).value(flannelLease(ip, mac)).exec();
  await put('10.44.2.0/24', '192.168.90.2', '02:00:00:00:00:02');
  await put('10.44.3.0/24', '192.168.90.3', '02:00:00:00:00:03');
  await put('10.44.4.0/24', '192.168.90.4', '02:00:00:00:00:04');
  const statuses: PeerSourceStatus[] = [];
  const src = c.use(new EtcdPeerSource(c.client, { prefix: c.prefix, onStatus: (s) => statuses.push(s) }), (s) => s.close());
  const consumer = new PeerConsumer(await src.snapshot());
  const watchFrom = src.revision + 1;

  // Changes the watch would have delivered, then a compaction past them.
  await put('10.44.5.0/24', '192.168.90.5', '02:00:00:00:00:05'); // added
  await c.client.delete().key(c.key('10.44.2.0/24')); // removed
  await put('10.44.3.0/24', '192.168.90.3', '02:00:00:00:00:33'); // changed
  await put('10.44.6.0/24', '192.168.90.6', '02:00:00:00:00:06');
  await c.client.delete().key(c.key('10.44.6.0/24')); // came and went: nothing
  const compacted = await c.etcd.compact();
  assert.ok(compacted > watchFrom);

  src.watch(consumer.onEvents);
  await until('resynced', () => statuses.some((s) => s.state === 'resynced'));
  assert.deepEqual(statuses.map((s) => s.state), ['connected', 'resynced']);
  const r = statuses[1] as Extract<PeerSourceStatus, { state: 'resynced' }>;
  assert.equal(r.reason, 'compacted');
  assert.deepEqual([r.added, r.removed], [2, 2]);
  assert.equal(consumer.batches.length, 1);
  assert.deepEqual(consumer.batches[0]!.map((e) => `${e.type} ${line(e.peer)}`), [
    'removed 10.44.2.0/24 192.168.90.2 02:00:00:00:00:02',
    'removed 10.44.3.0/24 192.168.90.3 02:00:00:00:00:03',
    'added 10.44.3.0/24 192.168.90.3 02:00:00:00:00:33',
    'added 10.44.5.0/24 192.168.90.5 02:00:00:00:00:05',
  ]);
  assert.deepEqual(consumer.problems, []);

  // The watch goes on after the resync.
  await put('10.44.7.0/24', '192.168.90.7', '02:00:00:00:00:07');
  await until('the add after resync', () => consumer.table.has('10.44.7.0/24'));
  assert.deepEqual(consumer.lines(), await etcdLines(c, ''));
  assert.deepEqual(consumer.problems, []);
});

test('peer source: changes and a compaction while its connection is cut: one resync batch, state equals etcd', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const proxy = c.use(EtcdProxy.forEndpoint(c.etcd.endpoint), (p) => p.stop());
  await proxy.start();
  const viaProxy = c.use(testClient(proxy.endpoint), (x) => x.close());
  const put = (s: string, ip: string, mac: string): Promise<unknown> => c.client.put(c.key(s)).value(flannelLease(ip, mac)).exec();
  await put('10.44.2.0/24', '192.168.90.2', '02:00:00:00:00:02');
  await put('10.44.3.0/24', '192.168.90.3', '02:00:00:00:00:03');
  const statuses: PeerSourceStatus[] = [];
  const src = c.use(new EtcdPeerSource(viaProxy, { prefix: c.prefix, onStatus: (s) => statuses.push(s), backoff: { initialMs: 100, maxMs: 500 } }), (s) => s.close());
  const consumer = new PeerConsumer(await src.snapshot());
  src.watch(consumer.onEvents);
  await until('connected', () => statuses.length === 1);

  proxy.cut();
  await until('unreachable', () => statuses.length === 2);
  await put('10.44.4.0/24', '192.168.90.4', '02:00:00:00:00:04');
  await c.client.delete().key(c.key('10.44.2.0/24'));
  await put('10.44.3.0/24', '192.168.90.3', '02:00:00:00:00:33');
  await c.etcd.compact();
  await sleep(1000);
  assert.equal(consumer.batches.length, 0, 'nothing while cut');

  proxy.restore();
  const back = Date.now();
  await until('resynced', () => statuses.length === 3, 5000);
  assert.ok(Date.now() - back < 5000);
  assert.deepEqual(statuses.map((s) => s.state), ['connected', 'unreachable', 'resynced']);
  assert.equal(consumer.batches.length, 1);
  assert.deepEqual(consumer.problems, []);
  assert.deepEqual(consumer.lines(), await etcdLines(c, ''));
});

test('peer source: setOwn re-filters (this host took another subnet); a VNI filter ignores foreign leases', async (t) => {
  const c = await setup(t);
  if (!c) return;
  await c.client.put(c.key('10.44.2.0/24')).value(flannelLease('192.168.90.2', '02:00:00:00:00:02'));
  await c.client.put(c.key('10.44.3.0/24')).value(flannelLease('192.168.90.3', '02:00:00:00:00:03'));
  await c.client.put(c.key('10.44.4.0/24')).value(flannelLease('192.168.90.4', '02:00:00:00:00:04', 7));
  const ignored: IgnoredLease[] = [];
  const src = c.use(new EtcdPeerSource(c.client, { prefix: c.prefix, vni: 1, own: { subnet: '10.44.2.0/24', publicIp: '192.168.90.2' }, onIgnored: (i) => ignored.push(i) }), (s) => s.close());
  const consumer = new PeerConsumer(await src.snapshot());
  src.watch(consumer.onEvents);
  assert.deepEqual(consumer.lines(), ['10.44.3.0/24 192.168.90.3 02:00:00:00:00:03']);
  assert.deepEqual(ignored.map((i) => i.reason), ['vni']);
  const batch = src.setOwn({ subnet: '10.44.3.0/24', publicIp: '192.168.90.3' });
  assert.deepEqual(batch.map((e) => `${e.type} ${e.peer.subnet}`), ['removed 10.44.3.0/24', 'added 10.44.2.0/24']);
  assert.deepEqual(consumer.lines(), ['10.44.2.0/24 192.168.90.2 02:00:00:00:00:02']);
  assert.deepEqual(consumer.problems, []);
});
