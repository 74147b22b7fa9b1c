/** The subnet registry (flannel's subnet manager) against a real etcd. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Etcd3 } from 'etcd3';
import { ConfigError } from '../../../src/errors';
import { NetworkConfigExistsError, NetworkFullError, NoNetworkConfigError } from '../../../src/control/etcd/errors';
import { buildConfig, parseNetworkConfig } from '../../../src/control/etcd/network-config';
import { decodeLease } from '../../../src/control/etcd/lease-codec';
import { SubnetRegistry, type AcquireRequest } from '../../../src/control/etcd/registry';
import { closer, ctlPutWithLease, EtcdFixture, testClient, type EtcdServer } from '../../helpers/etcd';

const fx = new EtcdFixture();
after(() => fx.stop());

const CONFIG = '{"Network":"10.44.0.0/16","SubnetLen":24,"SubnetMin":"10.44.1.0","SubnetMax":"10.44.254.0","Backend":{"Type":"vxlan","VNI":1,"Port":4789}}';

function host(n: number, extra: Partial<AcquireRequest> = {}): AcquireRequest {
  return { publicIp: `192.168.90.${n}`, vtepMac: `02:76:c0:a8:5a:${n.toString(16).padStart(2, '0')}`, vni: 1, ...extra };
}

interface Ctx { etcd: EtcdServer; client: Etcd3; reg: SubnetRegistry; use: ReturnType<typeof closer> }

async function setup(t: Parameters<typeof fx.etcd>[0], config: string | null = CONFIG): Promise<Ctx | null> {
  const etcd = await fx.etcd(t);
  if (!etcd) return null;
  const use = closer(t);
  const client = use(testClient(etcd.endpoint), (c) => c.close());
  const reg = new SubnetRegistry(client, { prefix: fx.prefix() });
  if (config !== null) await client.put(reg.configKey).value(config);
  return { etcd, client, reg, use };
}

test('registry: config: absent, put once, refused twice, overwritten, unusable', async (t) => {
  const c = await setup(t, null);
  if (!c) return;
  await assert.rejects(c.reg.getConfig(), (e: unknown) => e instanceof NoNetworkConfigError && e.code === 'VXTAP_ERR_NO_NETWORK_CONFIG');
  const cfg = buildConfig({ network: '10.44.0.0/16' });
  await c.reg.putConfig(cfg);
  assert.deepEqual(await c.reg.getConfig(), cfg);
  await assert.rejects(c.reg.putConfig(cfg), (e: unknown) => e instanceof NetworkConfigExistsError);
  await c.reg.putConfig(CONFIG, { overwrite: true });
  assert.equal(await c.client.get(c.reg.configKey).string(), CONFIG, 'text is written as given');
  assert.deepEqual(await c.reg.getConfig(), parseNetworkConfig(CONFIG));
  await assert.rejects(c.reg.putConfig('{"Network":"10.44.0.0/16","Backend":{"Type":"udp"}}', { overwrite: true }),
    (e: unknown) => e instanceof ConfigError && e.field === 'Backend.Type');
  await c.client.put(c.reg.configKey).value('{"Network":"10.44.0.0/16","SubnetLen":33,"Backend":{"Type":"vxlan"}}');
  await assert.rejects(c.reg.getConfig(), (e: unknown) => e instanceof ConfigError && e.field === 'SubnetLen');
});

test('registry: five hosts acquiring at once on an empty network get five distinct subnets', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const regs = [1, 2, 3, 4, 5].map(() => new SubnetRegistry(c.use(testClient(c.etcd.endpoint), (x) => x.close()), { prefix: c.reg.prefix }));
  const leases = await Promise.all(regs.map((r, i) => r.acquireLease(host(i + 1))));
  assert.equal(new Set(leases.map((l) => l.subnet)).size, 5, leases.map((l) => l.subnet).join(' '));
  for (const [i, l] of leases.entries()) {
    assert.equal(l.how, 'new');
    assert.match(l.subnet, /^10\.44\.\d+\.0\/24$/);
    const value = await c.client.get(l.key).string();
    assert.equal(value, `{"PublicIP":"192.168.90.${i + 1}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${host(i + 1).vtepMac}"}}`);
    assert.equal(l.ttlSeconds, 24 * 3600);
    const ttl = await c.reg.leaseTtl(l.leaseId);
    assert.ok(ttl > 24 * 3600 - 10, `TTL ${ttl}`);
  }
});

test('registry: collisions are retried, never fatal (4 hosts racing for the 4 subnets of a network)', async (t) => {
  const c = await setup(t, '{"Network":"10.9.0.0/27","SubnetLen":29,"SubnetMin":"10.9.0.0","Backend":{"Type":"vxlan"}}');
  if (!c) return;
  const regs = [1, 2, 3, 4].map(() => new SubnetRegistry(c.use(testClient(c.etcd.endpoint), (x) => x.close()), { prefix: c.reg.prefix }));
  const leases = await Promise.all(regs.map((r, i) => r.acquireLease(host(i + 10))));
  assert.deepEqual(leases.map((l) => l.subnet).sort(), ['10.9.0.0/29', '10.9.0.16/29', '10.9.0.24/29', '10.9.0.8/29']);
  await assert.rejects(c.reg.acquireLease(host(20)), NetworkFullError);
});

test('registry: a collision (a stale listing) makes it look again, and it takes the next free subnet', async (t) => {
  const c = await setup(t, '{"Network":"10.9.0.0/28","Backend":{"Type":"vxlan"}}'); // 3 subnets
  if (!c) return;
  const other = await c.reg.acquireLease(host(1, { previousSubnet: '10.9.0.4/30' }));
  assert.equal(other.subnet, '10.9.0.4/30');
  // This host's first listing misses host 1's lease, as if host 1 had won the race a moment later.
  const client = c.use(testClient(c.etcd.endpoint), (x) => x.close());
  const range = client.kv.range.bind(client.kv);
  let stale = true;
  client.kv.range = async (...args) => {
    const res = await range(...args);
    if (!stale || !args[0].range_end) return res; // not the config read, the subnets listing
    stale = false;
    return { ...res, kvs: res.kvs.filter((kv) => !kv.key.toString().endsWith('10.9.0.4-30')) };
  };
  const txn = client.kv.txn.bind(client.kv);
  const outcomes: boolean[] = [];
  client.kv.txn = async (...args) => {
    const res = await txn(...args);
    outcomes.push(res.succeeded);
    return res;
  };
  const leasesBefore = (await c.client.leaseClient.leaseLeases()).leases.length;
  const mine = await new SubnetRegistry(client, { prefix: c.reg.prefix }).acquireLease(host(2, { previousSubnet: '10.9.0.4/30' }));
  assert.deepEqual(outcomes, [false, true], 'one collision, then success');
  assert.notEqual(mine.subnet, '10.9.0.4/30');
  assert.equal(mine.how, 'new');
  assert.equal(decodeLease(other.key, (await c.client.get(other.key).string())!).publicIp, '192.168.90.1', 'host 1 keeps its lease');
  // The etcd lease granted for the failed attempt was reused, not leaked.
  assert.equal((await c.client.leaseClient.leaseLeases()).leases.length, leasesBefore + 1);
});

test('registry: acquiring again with the same PublicIP gets the same subnet, on a fresh etcd lease', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const first = await c.reg.acquireLease(host(7, { ttlSeconds: 60 }));
  const again = await c.reg.acquireLease(host(7, { vtepMac: '02:00:00:00:00:77', ttlSeconds: 60 }));
  assert.equal(again.subnet, first.subnet);
  assert.equal(again.how, 'reused');
  assert.notEqual(again.leaseId, first.leaseId);
  assert.match(String(await c.client.get(again.key).string()), /"VtepMAC":"02:00:00:00:00:77"/, 'data rewritten');
  const leases = await c.reg.listLeases();
  assert.equal(leases.length, 1);
  assert.equal(leases[0]!.leaseId, again.leaseId);
  // The old etcd lease, with no key left on it, is revoked.
  for (let i = 0; i < 20 && await c.reg.leaseTtl(first.leaseId) > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(await c.reg.leaseTtl(first.leaseId), -1);
});

test('registry: previousSubnet is taken when it fits and is free, else another', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const a = await c.reg.acquireLease(host(1, { previousSubnet: '10.44.77.0/24' }));
  assert.deepEqual([a.subnet, a.how], ['10.44.77.0/24', 'previous']);
  const b = await c.reg.acquireLease(host(2, { previousSubnet: '10.44.77.0/24' }));
  assert.notEqual(b.subnet, '10.44.77.0/24', 'held by host 1');
  assert.equal(b.how, 'new');
  const d = await c.reg.acquireLease(host(3, { previousSubnet: '10.44.255.0/24' }));
  assert.notEqual(d.subnet, '10.44.255.0/24', 'above SubnetMax');
  const e = await c.reg.acquireLease(host(4, { previousSubnet: '10.44.80.0/25' }));
  assert.equal(e.how, 'new', 'wrong length');
});

test('registry: a lease of this host that no longer fits the config is deleted, and a new one taken', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const old = await c.reg.acquireLease(host(5, { previousSubnet: '10.44.200.0/24' }));
  await c.client.put(c.reg.configKey).value('{"Network":"10.44.0.0/16","SubnetMax":"10.44.100.0","Backend":{"Type":"vxlan"}}');
  const now = await c.reg.acquireLease(host(5));
  assert.notEqual(now.subnet, old.subnet);
  assert.equal(await c.client.get(old.key).string(), null);
});

test('registry: a full network is VXTAP_ERR_NETWORK_FULL', async (t) => {
  const c = await setup(t, '{"Network":"10.9.0.0/28","Backend":{"Type":"vxlan"}}'); // /30s from .4 to .12: 3 subnets
  if (!c) return;
  const got = [];
  for (let i = 1; i <= 3; i++) got.push((await c.reg.acquireLease(host(i))).subnet);
  assert.deepEqual(got.sort(), ['10.9.0.12/30', '10.9.0.4/30', '10.9.0.8/30']);
  await assert.rejects(c.reg.acquireLease(host(4)), (e: unknown) => {
    assert.ok(e instanceof NetworkFullError);
    assert.equal(e.code, 'VXTAP_ERR_NETWORK_FULL');
    assert.match(e.message, /10\.9\.0\.0\/28/);
    return true;
  });
  // A malformed value still holds its subnet; a foreign key does not break anything.
  await c.client.delete().key(c.reg.keyOf('10.9.0.8/30'));
  await c.client.put(c.reg.keyOf('10.9.0.8/30')).value('garbage');
  await c.client.put(`${c.reg.subnetsPrefix}README`).value('hello');
  await assert.rejects(c.reg.acquireLease(host(4)), NetworkFullError);
});

test('registry: listLeases shows each key with its time to expiry; flannel leases written by etcdctl are read', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const mine = await c.reg.acquireLease(host(1, { ttlSeconds: 300, previousSubnet: '10.44.1.0/24' }));
  const flannel = '{"PublicIP":"192.168.90.9","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}}';
  await ctlPutWithLease(c.etcd, c.reg.keyOf('10.44.9.0/24'), flannel, 120);
  await c.client.put(c.reg.keyOf('10.44.5.0/24')).value('{"PublicIP":"192.168.90.5","BackendType":"host-gw"}'); // no lease: a reservation
  await c.client.put(c.reg.keyOf('10.44.6.0/24')).value('{oops');
  const list = await c.reg.listLeases();
  assert.deepEqual(list.map((l) => l.subnet), ['10.44.1.0/24', '10.44.5.0/24', '10.44.6.0/24', '10.44.9.0/24']);
  const [a, b, d, f] = list as [typeof list[0], typeof list[0], typeof list[0], typeof list[0]];
  assert.equal(a.leaseId, mine.leaseId);
  assert.ok(a.ttlSeconds! > 290 && a.ttlSeconds! <= 300, String(a.ttlSeconds));
  assert.equal(a.grantedTtlSeconds, 300);
  assert.equal(b.lease?.backendType, 'host-gw');
  assert.equal(b.leaseId, '0');
  assert.equal(b.ttlSeconds, null);
  assert.equal(d.lease, null);
  assert.match(d.error!, /not JSON/);
  assert.deepEqual(f.lease, { subnet: '10.44.9.0/24', publicIp: '192.168.90.9', backendType: 'vxlan', vtepMac: 'aa:bb:cc:dd:ee:ff', vni: 1 });
  assert.ok(f.ttlSeconds! > 110 && f.ttlSeconds! <= 120);
  // A host that flannel's lease names by IP takes that lease over.
  const taken = await c.reg.acquireLease(host(9));
  assert.deepEqual([taken.subnet, taken.how], ['10.44.9.0/24', 'reused']);
});

test('registry: releaseLease deletes the key and revokes the etcd lease', async (t) => {
  const c = await setup(t);
  if (!c) return;
  const l = await c.reg.acquireLease(host(3, { ttlSeconds: 60 }));
  await c.reg.releaseLease(l);
  assert.equal(await c.client.get(l.key).string(), null);
  assert.equal(await c.reg.leaseTtl(l.leaseId), -1);
});
