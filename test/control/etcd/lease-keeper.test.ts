/** Keeping this host's lease against a real etcd: renewal, and taking it back when it disappears. */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import type { LeaseKeeperEvent } from '../../../src/control/etcd/lease-keeper';
import { SubnetRegistry, type AcquireRequest } from '../../../src/control/etcd/registry';
import { decodeLease } from '../../../src/control/etcd/lease-codec';
import { closer, EtcdFixture, sleep, testClient, until, type EtcdServer } from '../../helpers/etcd';

const fx = new EtcdFixture();
after(() => fx.stop());

const ME: AcquireRequest = { publicIp: '192.168.90.1', vtepMac: '02:76:c0:a8:5a:01', vni: 1 };
const FAST = { retry: { initialMs: 100, maxMs: 500 }, watchBackoff: { initialMs: 100, maxMs: 500 } };

async function setup(t: TestContext): Promise<{ etcd: EtcdServer; client: Etcd3; reg: SubnetRegistry; use: ReturnType<typeof closer> } | null> {
  const etcd = await fx.etcd(t);
  if (!etcd) return null;
  const use = closer(t);
  const client = use(testClient(etcd.endpoint), (c) => c.close());
  const reg = new SubnetRegistry(client, { prefix: fx.prefix() });
  await reg.putConfig('{"Network":"10.44.0.0/16","Backend":{"Type":"vxlan","Port":4789}}');
  return { etcd, client, reg, use };
}

test('keeper: a 3 s lease is renewed (still there after 8 s), without rewriting the key', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const lease = await c.reg.acquireLease({ ...ME, ttlSeconds: 3 });
  const events: LeaseKeeperEvent[] = [];
  const keeper = c.use(c.reg.keepLease(lease, { ...FAST, onEvent: (e) => events.push(e) }), (k) => k.close());
  await sleep(8000);
  const kv = await c.client.get(lease.key).exec();
  assert.equal(kv.kvs.length, 1, 'the key is still there');
  assert.equal(Number(kv.kvs[0]!.mod_revision), lease.revision, 'renewal is a keepalive, not a rewrite');
  assert.ok(await c.reg.leaseTtl(lease.leaseId) > 0);
  const renewed = events.filter((e) => e.type === 'renewed').length;
  assert.ok(renewed >= 5, `renewed ${renewed} times: ${events.map((e) => e.type).join(',')}`);
  assert.deepEqual(events.filter((e) => e.type !== 'renewed'), []);
  assert.equal(keeper.lease.leaseId, lease.leaseId);
  assert.ok(keeper.lease.expiresAt > Date.now());
});

test('keeper: an own lease deleted by an operator is taken again, same subnet, and reported', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const lease = await c.reg.acquireLease({ ...ME, ttlSeconds: 60 });
  const events: LeaseKeeperEvent[] = [];
  const keeper = c.use(c.reg.keepLease(lease, { ...FAST, onEvent: (e) => events.push(e) }), (k) => k.close());
  await sleep(300); // the watch is in place
  await c.etcd.ctl(['del', lease.key]);
  await until('reacquired', () => events.some((e) => e.type === 'reacquired'), 5000);
  assert.deepEqual(events.map((e) => e.type), ['lost', 'reacquired']);
  const lost = events[0] as Extract<LeaseKeeperEvent, { type: 'lost' }>;
  assert.equal(lost.reason, 'deleted');
  const re = events[1] as Extract<LeaseKeeperEvent, { type: 'reacquired' }>;
  assert.equal(re.sameSubnet, true);
  assert.equal(re.lease.subnet, lease.subnet);
  assert.equal(keeper.lease.subnet, lease.subnet);
  const value = await c.client.get(lease.key).string();
  assert.equal(decodeLease(lease.key, value!).publicIp, ME.publicIp);
  // And again: the keeper now watches the new lease.
  await sleep(200);
  await c.etcd.ctl(['del', lease.key]);
  await until('reacquired twice', () => events.filter((e) => e.type === 'reacquired').length === 2, 5000);
  assert.equal(await c.client.get(lease.key).string() !== null, true);
});

test('keeper: an own lease whose etcd lease is revoked (as on expiry) is taken again and reported as expired', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const lease = await c.reg.acquireLease({ ...ME, ttlSeconds: 60, previousSubnet: '10.44.33.0/24' });
  const events: LeaseKeeperEvent[] = [];
  c.use(c.reg.keepLease(lease, { ...FAST, onEvent: (e) => events.push(e) }), (k) => k.close());
  await sleep(300);
  await c.etcd.ctl(['lease', 'revoke', BigInt(lease.leaseId).toString(16)]);
  await until('reacquired', () => events.some((e) => e.type === 'reacquired'), 5000);
  const lost = events.find((e) => e.type === 'lost') as Extract<LeaseKeeperEvent, { type: 'lost' }>;
  assert.equal(lost.reason, 'expired');
  const re = events.find((e) => e.type === 'reacquired') as Extract<LeaseKeeperEvent, { type: 'reacquired' }>;
  assert.equal(re.lease.subnet, '10.44.33.0/24');
  assert.notEqual(re.lease.leaseId, lease.leaseId);
});

test('keeper: a lease expiring for real (2 s TTL, renewals stopped) is seen and taken again', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const lease = await c.reg.acquireLease({ ...ME, ttlSeconds: 2 });
  const events: LeaseKeeperEvent[] = [];
  // The keeper is told the TTL is an hour, so its first renewal is an hour away: etcd expires the lease.
  c.use(c.reg.keepLease({ ...lease, ttlSeconds: 3600 }, { ...FAST, renewMarginSeconds: 0, onEvent: (e) => events.push(e) }), (k) => k.close());
  await until('reacquired', () => events.some((e) => e.type === 'reacquired'), 8000);
  const lost = events.find((e) => e.type === 'lost') as Extract<LeaseKeeperEvent, { type: 'lost' }>;
  assert.equal(lost.reason, 'expired');
  const re = events.find((e) => e.type === 'reacquired') as Extract<LeaseKeeperEvent, { type: 'reacquired' }>;
  assert.equal(re.lease.subnet, lease.subnet);
});

test('keeper: an own key overwritten with another host\'s data is given up and a new subnet taken', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const lease = await c.reg.acquireLease({ ...ME, ttlSeconds: 60 });
  const events: LeaseKeeperEvent[] = [];
  c.use(c.reg.keepLease(lease, { ...FAST, onEvent: (e) => events.push(e) }), (k) => k.close());
  await sleep(300);
  await c.client.put(lease.key).value('{"PublicIP":"192.168.90.99","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:99"}}');
  await until('reacquired', () => events.some((e) => e.type === 'reacquired'), 5000);
  const lost = events.find((e) => e.type === 'lost') as Extract<LeaseKeeperEvent, { type: 'lost' }>;
  assert.equal(lost.reason, 'replaced');
  const re = events.find((e) => e.type === 'reacquired') as Extract<LeaseKeeperEvent, { type: 'reacquired' }>;
  assert.equal(re.sameSubnet, false);
  assert.notEqual(re.lease.subnet, lease.subnet);
});
