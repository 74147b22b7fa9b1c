/**
 * EtcdPeerSource while etcd goes away and comes back: killed and restarted,
 * frozen (SIGSTOP), and cut off from this client only (a proxy). No events
 * while etcd is away, each status transition reported once, and what changed
 * meanwhile seen within 5 s of etcd's return.
 */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { EtcdPeerSource, type PeerSourceStatus } from '../../../src/control/etcd/peer-source';
import { EtcdFixture, flannelLease, prefixCtx, type PrefixCtx, EtcdProxy, sleep, testClient, until } from '../../helpers/etcd';
import { line, PeerConsumer } from '../../helpers/peer-consumer';

const fx = new EtcdFixture();
after(() => fx.stop());

const BACKOFF = { initialMs: 100, maxMs: 1000 };

type Ctx = PrefixCtx;

const setup = (t: TestContext): Promise<Ctx | null> => prefixCtx(fx, t, { restoreEtcd: true });

async function etcdLines(c: Ctx): Promise<string[]> {
  const res = await c.client.getAll().prefix(`${c.prefix}/subnets/`).exec();
  return res.kvs.map((kv) => {
    const key = kv.key.toString();
    const v = JSON.parse(kv.value.toString()) as { PublicIP: string; BackendData: { VtepMAC: string } };
    return line({ subnet: key.slice(key.lastIndexOf('/') + 1).replace('-', '/'), publicIp: v.PublicIP, vtepMac: v.BackendData.VtepMAC });
  }).sort();
}

async function watching(c: Ctx, client: Etcd3): Promise<{ src: EtcdPeerSource; consumer: PeerConsumer; statuses: PeerSourceStatus[] }> {
  const statuses: PeerSourceStatus[] = [];
  const src = c.use(new EtcdPeerSource(client, { prefix: c.prefix, onStatus: (s) => statuses.push(s), backoff: BACKOFF }), (s) => s.close());
  const consumer = new PeerConsumer(await src.snapshot());
  src.watch(consumer.onEvents);
  await until('connected', () => statuses.length === 1);
  return { src, consumer, statuses };
}

/**
 * Right after etcd is back: a lease written now is seen within 5 s, and the
 * source reports 'resynced' once, after 'connected' and 'unreachable'.
 */
async function seesLeaseAfterReturn(c: Ctx, consumer: PeerConsumer, statuses: PeerSourceStatus[]): Promise<void> {
  const back = Date.now();
  // Written before the source is back on its feet.
  await c.client.put(c.key('10.44.3.0/24')).value(flannelLease('192.168.90.3', '02:00:00:00:00:03'));
  await until('the new lease', () => consumer.table.has('10.44.3.0/24'), 5000);
  assert.ok(Date.now() - back < 5000, `${Date.now() - back} ms`);
  await until('resynced', () => statuses.length === 3, 5000);
  assert.deepEqual(statuses.map((s) => s.state), ['connected', 'unreachable', 'resynced']);
}

test('outage: etcd killed and restarted: nothing emitted while down, unreachable/resynced once each, later leases seen', async (t) => {
  const c = await setup(t);
  if (!c) return;
  await c.client.put(c.key('10.44.2.0/24')).value(flannelLease('192.168.90.2', '02:00:00:00:00:02'));
  const own = c.use(testClient(c.etcd.endpoint), (x) => x.close());
  const { consumer, statuses } = await watching(c, own);
  assert.deepEqual(consumer.lines(), ['10.44.2.0/24 192.168.90.2 02:00:00:00:00:02']);

  await c.etcd.kill();
  await until('unreachable', () => statuses.length === 2, 5000);
  await sleep(2500); // several reconnect attempts
  assert.deepEqual(statuses.map((s) => s.state), ['connected', 'unreachable'], 'reported once, not per attempt');
  assert.deepEqual(consumer.batches, [], 'the last known peers stay');
  assert.equal(consumer.table.size, 1);

  await c.etcd.start();
  await seesLeaseAfterReturn(c, consumer, statuses);
  assert.equal((statuses[2] as Extract<PeerSourceStatus, { state: 'resynced' }>).reason, 'reconnected');

  await c.client.delete().key(c.key('10.44.2.0/24'));
  await until('the delete', () => !consumer.table.has('10.44.2.0/24'), 5000);
  assert.deepEqual(consumer.problems, []);
  assert.deepEqual(consumer.lines(), await etcdLines(c));
  assert.equal(statuses.length, 3);
});

test('outage: etcd frozen (SIGSTOP): seen by gRPC keepalive, nothing emitted; after SIGCONT a lease written since is seen', async (t) => {
  const c = await setup(t);
  if (!c) return;
  await c.client.put(c.key('10.44.2.0/24')).value(flannelLease('192.168.90.2', '02:00:00:00:00:02'));
  const own = c.use(testClient(c.etcd.endpoint), (x) => x.close());
  const { consumer, statuses } = await watching(c, own);

  c.etcd.pause();
  await until('unreachable', () => statuses.length === 2, 6000);
  await sleep(1500);
  assert.deepEqual(statuses.map((s) => s.state), ['connected', 'unreachable']);
  assert.deepEqual(consumer.batches, []);

  c.etcd.resume();
  await seesLeaseAfterReturn(c, consumer, statuses);
  assert.deepEqual(consumer.problems, []);
  assert.deepEqual(consumer.lines(), await etcdLines(c));
});

test('outage: cut off while others write: added, removed and changed leases all caught up within 5 s, as one batch', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const proxy = c.use(EtcdProxy.forEndpoint(c.etcd.endpoint), (p) => p.stop());
  await proxy.start();
  await c.client.put(c.key('10.44.2.0/24')).value(flannelLease('192.168.90.2', '02:00:00:00:00:02'));
  await c.client.put(c.key('10.44.3.0/24')).value(flannelLease('192.168.90.3', '02:00:00:00:00:03'));
  const viaProxy = c.use(testClient(proxy.endpoint), (x) => x.close());
  const { consumer, statuses } = await watching(c, viaProxy);

  proxy.cut();
  await until('unreachable', () => statuses.length === 2, 5000);
  await c.client.put(c.key('10.44.4.0/24')).value(flannelLease('192.168.90.4', '02:00:00:00:00:04'));
  await c.client.delete().key(c.key('10.44.2.0/24'));
  await c.client.put(c.key('10.44.3.0/24')).value(flannelLease('192.168.90.3', '02:00:00:00:00:33'));
  await sleep(2000);
  assert.deepEqual(consumer.batches, []);
  assert.deepEqual(statuses.map((s) => s.state), ['connected', 'unreachable']);

  proxy.restore();
  const back = Date.now();
  await until('caught up', async () => consumer.lines().join() === (await etcdLines(c)).join(), 5000);
  assert.ok(Date.now() - back < 5000, `${Date.now() - back} ms`);
  await until('resynced', () => statuses.length === 3);
  assert.deepEqual(statuses.map((s) => s.state), ['connected', 'unreachable', 'resynced']);
  assert.equal(consumer.batches.length, 1);
  assert.deepEqual(consumer.events(), [
    'removed 10.44.2.0/24 192.168.90.2 02:00:00:00:00:02',
    'removed 10.44.3.0/24 192.168.90.3 02:00:00:00:00:03',
    'added 10.44.3.0/24 192.168.90.3 02:00:00:00:00:33',
    'added 10.44.4.0/24 192.168.90.4 02:00:00:00:00:04',
  ]);
  assert.deepEqual(consumer.problems, []);
});
