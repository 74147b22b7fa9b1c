/**
 * flannel's dual-stack layout against a real etcd (issue #13, part 3;
 * docs/ipv6-control.md): leases written by etcdctl in flannel's exact form
 * reach the data plane's stand-in with their IPv4 half (the IPv6 half
 * carried), malformed variants are reported and never reach it, and the
 * registry acquires a dual-stack lease as flannel does.
 */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdPeerSource, type IgnoredLease } from '../../../src/control/etcd/peer-source';
import { NetworkFullError } from '../../../src/control/etcd/errors';
import { decodeLease } from '../../../src/control/etcd/lease-codec';
import { parseLeaseKey, parseNetworkConfig } from '../../../src/control/etcd/network-config';
import { SubnetRegistry, type AcquireRequest } from '../../../src/control/etcd/registry';
import { GuardedPeerSource } from '../../../src/control/lease-guard';
import { selfOf, type NetworkShape } from '../../../src/control/lease-rules';
import type { Refusal } from '../../../src/control/lease-rules';
import { ctlPutWithLease, EtcdFixture, flannelLease, prefixCtx, until, type PrefixCtx } from '../../helpers/etcd';
import { PeerConsumer } from '../../helpers/peer-consumer';

const fx = new EtcdFixture();
after(() => fx.stop());

const CONFIG = '{"Network":"10.44.0.0/16","SubnetLen":24,"EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetLen":64,"Backend":{"Type":"vxlan","VNI":1,"Port":4789}}';

/** A value exactly as flannel's vxlan backend writes it on a dual-stack host. */
function dualLease(n: number, vni6 = 1): string {
  const h = n.toString(16).padStart(2, '0');
  return `{"PublicIP":"192.168.90.${n}","PublicIPv6":"fd00:90::${n.toString(16)}","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:${h}"},"BackendV6Data":{"VNI":${vni6},"VtepMAC":"aa:bb:cc:dd:66:${h}"}}`;
}

const sub = (c: PrefixCtx, key: string): string => `${c.prefix}/subnets/${key}`;

test('dual-stack: etcdctl-written flannel leases: the IPv4 half is used, the IPv6 half carried; malformed variants are reported and never installed', async (t: TestContext) => {
  const c = await prefixCtx(fx, t);
  if (!c) return;
  await c.client.put(`${c.prefix}/config`).value(CONFIG);
  const cfg = parseNetworkConfig(CONFIG);
  const put = (key: string, value: string): Promise<string> => ctlPutWithLease(c.etcd, sub(c, key), value, 120);
  await put('10.44.2.0-24&fc00:0:0:2::-64', dualLease(2)); // a dual-stack flannel host
  await put('10.44.3.0-24', flannelLease('192.168.90.3', 'aa:bb:cc:dd:ee:03')); // an IPv4-only host
  await put('0.0.0.0-0&fc00:0:0:4::-64', '{"PublicIP":"0.0.0.0","PublicIPv6":"fd00:90::4","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"aa:bb:cc:dd:66:04"}}'); // IPv6-only
  await put('10.44.5.0-24&fc00:::5-64', dualLease(5)); // bad IPv6 half in the key
  await put('10.44.8.0-24&FC00:0:0:8::-64', dualLease(8)); // upper case: flannel's regex refuses it too
  await put('10.44.6.0-24&fc00:0:0:6::-64', flannelLease('192.168.90.6', 'aa:bb:cc:dd:ee:06')); // mismatched: the key has an IPv6 half, the value none
  await put('10.44.7.0-24&fd99:0:0:7::-64', dualLease(7)); // the IPv6 half outside IPv6Network
  await put('10.44.10.0-24&fc00:0:0:a::-64', dualLease(10).replace('"fd00:90::a"', '"fd00:90:::a"')); // PublicIPv6 not an address
  await put('10.44.9.0-24&fc00:0:0:9::-64', dualLease(9, 2)); // BackendV6Data of another VNI

  const ignored: IgnoredLease[] = [];
  const refusals: string[] = [];
  const shape: NetworkShape = { network: cfg.network, subnetLen: cfg.subnetLen, subnetMin: cfg.subnetMin, subnetMax: cfg.subnetMax, ipv6: cfg.ipv6 };
  const inner = new EtcdPeerSource(c.client, { prefix: c.prefix, own: { subnet: '10.44.1.0/24', publicIp: '192.168.90.1' }, vni: 1, onIgnored: (i) => ignored.push(i) });
  const guard = c.use(new GuardedPeerSource(inner, {
    self: selfOf('10.44.1.0/24', '192.168.90.1', '02:76:c0:a8:5a:01', { subnet6: 'fc00:0:0:1::/64', publicIpv6: 'fd00:90::1' }),
    shape, recheckMs: 60_000,
    onRefused: (p, r: Refusal) => refusals.push(`${p.subnet} ${r.reason}`),
  }), (g) => g.close());
  const snap = await guard.snapshot();
  const consumer = new PeerConsumer(snap);
  guard.watch(consumer.onEvents);

  // What the installer gets (one route each): the IPv4 halves of the good and the half-good leases.
  const table = (): string[] => [...consumer.table.values()].map((p) => `${p.subnet} ${p.subnet6 ?? '-'} ${p.publicIpv6 ?? '-'} ${p.vtepMac6 ?? '-'}`).sort();
  assert.deepEqual(table(), [
    '10.44.2.0/24 fc00:0:0:2::/64 fd00:90::2 aa:bb:cc:dd:66:02',
    '10.44.3.0/24 - - -',
    '10.44.6.0/24 - - -',
    '10.44.7.0/24 - - -',
    '10.44.9.0/24 - - -',
  ]);
  const why = ignored.map((i) => `${i.key.slice(c.prefix.length + '/subnets/'.length)} ${i.reason}`).sort();
  assert.deepEqual(why, [
    '0.0.0.0-0&fc00:0:0:4::-64 ipv6-only',
    '10.44.10.0-24&fc00:0:0:a::-64 malformed',
    '10.44.5.0-24&fc00:::5-64 malformed',
    '10.44.8.0-24&FC00:0:0:8::-64 malformed',
    '10.44.9.0-24&fc00:0:0:9::-64 vni',
  ]);
  assert.match(ignored.find((i) => i.reason === 'vni')!.detail, /IPv6 half is ignored, its IPv4 half is used/);
  assert.deepEqual(refusals.sort(), ['10.44.6.0/24 public-ipv6', '10.44.7.0/24 network6']);

  // Live: a dual-stack host joins (etcdctl), a malformed one does not get in, and nothing is ever handed over twice.
  await put('10.44.11.0-24&fc00:0:0:b::-64', dualLease(11));
  await put('10.44.12.0-24&fc00:0:0:b::-64', dualLease(12)); // its IPv6 subnet is the one just taken: the half is refused
  await put('10.44.13.0-24&zz::-64', dualLease(13));
  await until('the two new leases', () => consumer.table.has('10.44.11.0/24') && consumer.table.has('10.44.12.0/24'));
  await until('the refusal', () => refusals.includes('10.44.12.0/24 overlap6'));
  assert.equal(consumer.table.get('10.44.11.0/24')!.subnet6, 'fc00:0:0:b::/64');
  assert.equal(consumer.table.get('10.44.12.0/24')!.subnet6, undefined);
  assert.ok(!consumer.table.has('10.44.13.0/24'));
  assert.deepEqual(consumer.problems, []);
});

function host(n: number, extra: Partial<AcquireRequest> = {}): AcquireRequest {
  return { publicIp: `192.168.90.${n}`, vtepMac: `02:76:c0:a8:5a:${n.toString(16).padStart(2, '0')}`, vni: 1, ...extra };
}

test('dual-stack: the registry acquires a dual-stack lease in flannel\'s form, around the IPv6 subnets flannel hosts hold', async (t: TestContext) => {
  const c = await prefixCtx(fx, t);
  if (!c) return;
  const reg = new SubnetRegistry(c.client, { prefix: c.prefix });
  // Three IPv6 subnets to lease; flannel hosts hold two of them.
  const small = '{"Network":"10.44.0.0/16","SubnetLen":24,"EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetMin":"fc00:0:0:1::","IPv6SubnetMax":"fc00:0:0:3::","Backend":{"Type":"vxlan","VNI":1,"Port":4789}}';
  await c.client.put(reg.configKey).value(small);
  await ctlPutWithLease(c.etcd, sub(c, '10.44.2.0-24&fc00:0:0:1::-64'), dualLease(2), 120);
  await ctlPutWithLease(c.etcd, sub(c, '10.44.3.0-24&fc00:0:0:3::-64'), dualLease(3), 120);

  const mine = await reg.acquireLease(host(1, { publicIpv6: 'fd00:90:0::1', ttlSeconds: 60 }));
  assert.equal(mine.subnet6, 'fc00:0:0:2::/64', 'the one IPv6 subnet left');
  assert.equal(mine.how, 'new');
  const keyParts = parseLeaseKey(mine.key)!;
  assert.ok(keyParts.subnet !== null && keyParts.subnet6 !== null);
  assert.ok(mine.key.endsWith(`/subnets/${mine.subnet.replace('/', '-')}&fc00:0:0:2::-64`), mine.key);
  const value = (await c.client.get(mine.key).string())!;
  assert.equal(value, `{"PublicIP":"192.168.90.1","PublicIPv6":"fd00:90::1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:76:c0:a8:5a:01"},"BackendV6Data":{"VNI":1,"VtepMAC":"02:76:c0:a8:5a:01"}}`);
  assert.equal(decodeLease(mine.key, value).subnet6, 'fc00:0:0:2::/64');

  // Again: the same lease, reused.
  const again = await reg.acquireLease(host(1, { publicIpv6: 'fd00:90::1', ttlSeconds: 60 }));
  assert.deepEqual([again.key, again.how], [mine.key, 'reused']);

  // No IPv6 subnet left for a fourth host: the network is full (named by its IPv6 network).
  await assert.rejects(reg.acquireLease(host(4, { publicIpv6: 'fd00:90::4', ttlSeconds: 60 })), (e: unknown) => e instanceof NetworkFullError && /fc00::\/48/.test(e.message));
  // Without an IPv6 address the host gets an IPv4-only lease, even in a dual-stack network.
  const v4 = await reg.acquireLease(host(4, { ttlSeconds: 60 }));
  assert.equal(v4.subnet6, undefined);
  assert.ok(!v4.key.includes('&'), v4.key);
  // ... and with one later, the IPv4-only lease no longer fits: it is replaced by a dual-stack one on the same IPv4 subnet.
  await c.client.delete().key(sub(c, '10.44.3.0-24&fc00:0:0:3::-64'));
  const dual = await reg.acquireLease(host(4, { publicIpv6: 'fd00:90::4', ttlSeconds: 60 }));
  assert.equal(dual.subnet, v4.subnet);
  assert.equal(dual.subnet6, 'fc00:0:0:3::/64');
  assert.equal(await c.client.get(v4.key).string(), null, 'the IPv4-only key is gone');

  // A previous IPv6 subnet (the subnet file's) is taken again when free.
  await reg.releaseLease(dual);
  const back = await reg.acquireLease(host(4, { publicIpv6: 'fd00:90::4', ttlSeconds: 60, previousSubnet: dual.subnet, previousSubnet6: 'fc00:0:0:3::/64' }));
  assert.deepEqual([back.subnet, back.subnet6, back.how], [dual.subnet, 'fc00:0:0:3::/64', 'previous']);
});
