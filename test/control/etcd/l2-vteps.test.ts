/**
 * The etcd L2 backend against a real etcd: hosts register under
 * <prefix>/l2/<vni>/vteps/<ip> and see each other; a clean stop, an expired
 * or revoked lease, a malformed value, an etcd restart.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { EtcdL2Network } from '../../../src/control/etcd-l2';
import type { L2Network } from '../../../src/control/l2-network';
import { decodeVtep, vtepsPrefix } from '../../../src/control/etcd/vteps';
import { VtepConsumer } from '../../helpers/vtep-consumer';
import { ctlPutWithLease, EtcdFixture, EtcdProxy, prefixCtx, sleep, until, type PrefixCtx } from '../../helpers/etcd';

const fx = new EtcdFixture();
after(() => fx.stop());

const BACKOFF = { initialMs: 100, maxMs: 1000 };
const VNI = 42;

interface Host {
  net: L2Network;
  flood: VtepConsumer;
  logs: { level: number; msg: string }[];
}

type Ctx = PrefixCtx;

/** A log that keeps its lines for assertions. */
function memLog(): { log: pino.Logger; lines: { level: number; msg: string }[] } {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => { const o = JSON.parse(s) as { level: number; msg: string }; lines.push({ level: o.level, msg: o.msg }); } });
  return { log, lines };
}

async function join(c: Ctx, ip: string, opts: { ttlSeconds?: number; vni?: number | null; port?: number | null; endpoint?: string } = {}): Promise<Host> {
  const backend = new EtcdL2Network({
    client: { endpoints: [opts.endpoint ?? c.etcd.endpoint], keepaliveMs: 1000, keepaliveTimeoutMs: 1000, callTimeoutMs: 2000 },
    prefix: c.prefix,
    ...(opts.vni === null ? {} : { vni: opts.vni ?? VNI }),
    ...(opts.port === null ? {} : { port: opts.port ?? 4789 }),
    ttlSeconds: opts.ttlSeconds ?? 10,
    backoff: BACKOFF,
  });
  const { log, lines } = memLog();
  const mac = `02:00:${ip.split('.').map((x) => Number(x).toString(16).padStart(2, '0')).join(':')}`;
  const net = await backend.join({ publicIp: ip, vtepMac: mac, log, onFatal: (err) => { throw err; } });
  c.use(net, (n) => n.close());
  const flood = new VtepConsumer(await net.source.snapshot());
  net.source.watch(flood.onEvents);
  return { net, flood, logs: lines };
}

const keyOf = (c: Ctx, ip: string, vni = VNI): string => vtepsPrefix(c.prefix, vni) + ip;

async function keyValue(c: Ctx, key: string): Promise<string | null> {
  return c.client.get(key).string();
}

test('l2 etcd: two hosts join and each sees the other within 5 s; the own key is not a VTEP', async (t) => {
  const c = await prefixCtx(fx, t);
  if (!c) return;
  const a = await join(c, '192.168.90.1');
  assert.deepEqual(a.flood.ips(), [], 'alone: its own key is not in its flood list');
  assert.deepEqual(decodeVtep(keyOf(c, '192.168.90.1'), (await keyValue(c, keyOf(c, '192.168.90.1')))!),
    { publicIp: '192.168.90.1', port: 4789, vtepMac: '02:00:c0:a8:5a:01', macs: [] });
  const t0 = Date.now();
  const b = await join(c, '192.168.90.2');
  assert.deepEqual(b.flood.ips(), ['192.168.90.1'], 'b finds a in its snapshot');
  await until('a sees b', () => a.flood.table.has('192.168.90.2'), 5000);
  assert.ok(Date.now() - t0 < 5000);
  const { source, ...seen } = a.flood.table.get('192.168.90.2')!;
  assert.deepEqual(seen, { publicIp: '192.168.90.2', port: 4789, vtepMac: '02:00:c0:a8:5a:02', macs: [] });
  // Where it came from (`vxtap explain`): its key, as etcd gave it.
  assert.equal(source?.kind === 'etcd' ? source.key : null, keyOf(c, '192.168.90.2'));
  assert.deepEqual(a.flood.events(), ['added 192.168.90.2']);
  assert.equal(a.net.vni, VNI);
  assert.equal(a.net.port, 4789);
  const st = a.net.status();
  assert.equal(st.lease?.held, true);
  assert.equal(st.lease?.subnet, keyOf(c, '192.168.90.1'));
  assert.ok(st.lease!.expiresAt > Date.now());
  assert.equal(st.etcd?.reachable, true);
  // Another VNI is another segment.
  const other = await join(c, '192.168.90.3', { vni: 43 });
  assert.deepEqual(other.flood.ips(), []);
  await sleep(300);
  assert.equal(a.flood.table.has('192.168.90.3'), false);
  assert.deepEqual([...a.flood.problems, ...b.flood.problems], []);
});

test('l2 etcd: a clean close deletes the key at once and the other host sees it removed', async (t) => {
  const c = await prefixCtx(fx, t);
  if (!c) return;
  const a = await join(c, '192.168.90.1');
  const b = await join(c, '192.168.90.2');
  await until('a sees b', () => a.flood.table.has('192.168.90.2'));
  const t0 = Date.now();
  await b.net.close();
  assert.equal(await keyValue(c, keyOf(c, '192.168.90.2')), null, 'the key is gone when close() returns');
  await until('a drops b', () => !a.flood.table.has('192.168.90.2'), 5000);
  assert.ok(Date.now() - t0 < 5000, `${Date.now() - t0} ms`);
  assert.deepEqual(a.flood.events(), ['added 192.168.90.2', 'removed 192.168.90.2']);
  assert.deepEqual(a.flood.problems, []);
});

test('l2 etcd: a host whose lease expires (no keep-alive: a crashed host) or is revoked leaves the flood list', async (t) => {
  const c = await prefixCtx(fx, t);
  if (!c) return;
  const a = await join(c, '192.168.90.1');
  // Two hosts registered by hand, as a host that then dies would leave them: one with a 2 s lease, one to revoke.
  await ctlPutWithLease(c.etcd, keyOf(c, '192.168.90.7'), '{"PublicIP":"192.168.90.7","Port":4789,"VtepMAC":"02:00:00:00:00:07"}', 2);
  const revokeMe = await ctlPutWithLease(c.etcd, keyOf(c, '192.168.90.8'), '{"PublicIP":"192.168.90.8","Port":4789,"VtepMAC":null}', 60);
  await until('both seen', () => a.flood.table.has('192.168.90.7') && a.flood.table.has('192.168.90.8'));
  const t0 = Date.now();
  await until('the expired one removed', () => !a.flood.table.has('192.168.90.7'), 6000);
  assert.ok(Date.now() - t0 < 5000, `expired after ${Date.now() - t0} ms (TTL 2 s)`);
  await c.etcd.ctl(['lease', 'revoke', revokeMe]);
  await until('the revoked one removed', () => !a.flood.table.has('192.168.90.8'), 5000);
  assert.deepEqual(a.flood.events(), ['added 192.168.90.7', 'added 192.168.90.8', 'removed 192.168.90.7', 'removed 192.168.90.8']);
  assert.deepEqual(a.flood.problems, []);
});

test('l2 etcd: a host keeps its key: after its lease is revoked or the key deleted, the key is put back', async (t) => {
  const c = await prefixCtx(fx, t);
  if (!c) return;
  const a = await join(c, '192.168.90.1', { ttlSeconds: 3 });
  const b = await join(c, '192.168.90.2');
  await until('b sees a', () => b.flood.table.has('192.168.90.1'));
  const key = keyOf(c, '192.168.90.1');
  await sleep(4000); // past the TTL: keep-alives work
  assert.notEqual(await keyValue(c, key), null, 'renewed past its 3 s TTL');

  const kv = (await c.client.get(key).exec()).kvs[0]!;
  await c.etcd.ctl(['lease', 'revoke', BigInt(String(kv.lease)).toString(16)]);
  await until('the key is back', async () => (await keyValue(c, key)) !== null, 5000);
  await c.etcd.ctl(['del', key]);
  await until('the key is back again', async () => (await keyValue(c, key)) !== null, 5000);
  await c.client.put(key).value('{"PublicIP":"192.168.90.1","Port":1,"VtepMAC":null}');
  await until('an overwrite is undone', async () => JSON.parse((await keyValue(c, key))!).Port === 4789, 5000);
  await until('b has a', () => b.flood.table.get('192.168.90.1')?.port === 4789, 5000);
  assert.equal(a.net.status().lease?.held, true);
  assert.ok(a.logs.some((l) => /putting it back/.test(l.msg)), 'the loss is logged');
  assert.deepEqual(b.flood.problems, []);
});

test('l2 etcd: malformed values are logged once and ignored, never a crash; a later good value is used', async (t) => {
  const c = await prefixCtx(fx, t);
  if (!c) return;
  const p = vtepsPrefix(c.prefix, VNI);
  await c.client.put(`${p}192.168.90.20`).value('not json');
  const a = await join(c, '192.168.90.1');
  const bad: [string, string][] = [
    [`${p}192.168.90.21`, '{"PublicIP":"192.168.90.22","Port":4789}'], // key/PublicIP mismatch
    [`${p}192.168.90.23`, '{"PublicIP":"192.168.90.23","Port":0}'],
    [`${p}192.168.90.24`, '{"PublicIP":"192.168.90.24","Port":4789,"VtepMAC":"01:00:5e:00:00:01"}'],
    [`${p}127.0.0.1`, '{"PublicIP":"127.0.0.1","Port":4789}'],
    [`${p}192.168.90.25`, '[1,2]'],
  ];
  for (const [k, v] of bad) await c.client.put(k).value(v);
  await c.client.put(`${p}192.168.90.26`).value('{"PublicIP":"192.168.90.26","Port":4790,"MACs":["AA:BB:CC:00:00:01"],"Extra":true}');
  await until('the good one', () => a.flood.table.has('192.168.90.26'));
  const ignored = (): string[] => a.logs.filter((l) => l.level === 40 && l.msg.startsWith('ignoring ')).map((l) => l.msg);
  await until('each bad value logged', () => ignored().length === 6);
  assert.match(ignored()[0]!, /192\.168\.90\.20: not JSON/);
  assert.ok(ignored().some((m) => /PublicIP 192\.168\.90\.22 does not match the key/.test(m)));
  assert.ok(ignored().some((m) => /Port: not in 1\.\.65535: 0/.test(m)));
  assert.ok(ignored().some((m) => /VtepMAC: "01:00:5e:00:00:01" is a multicast MAC/.test(m)));
  assert.ok(ignored().some((m) => /127\.0\.0\.1" is a loopback address/.test(m)));
  assert.ok(ignored().some((m) => /not a JSON object/.test(m)));
  assert.deepEqual(a.flood.ips(), ['192.168.90.26']);
  const { source: _origin, ...vtep26 } = a.flood.table.get('192.168.90.26')!;
  assert.deepEqual(vtep26, { publicIp: '192.168.90.26', port: 4790, vtepMac: null, macs: ['aa:bb:cc:00:00:01'] });
  // Logged once per version: a rewrite of another key does not repeat them; a fixed value is taken.
  await c.client.put(`${p}192.168.90.26`).value('{"PublicIP":"192.168.90.26","Port":4789}');
  await c.client.put(`${p}192.168.90.23`).value('{"PublicIP":"192.168.90.23","Port":4789}');
  await until('the fixed one', () => a.flood.table.has('192.168.90.23'));
  assert.equal(ignored().length, 6);
  // A good value turned bad is removed (and logged).
  await c.client.put(`${p}192.168.90.23`).value('{');
  await until('removed when it turns bad', () => !a.flood.table.has('192.168.90.23'));
  assert.equal(ignored().length, 7);
  assert.deepEqual(a.flood.problems, []);
});

test('l2 etcd: VNI and port from <prefix>/config (Network not needed), waiting for it when absent', async (t) => {
  const c = await prefixCtx(fx, t);
  if (!c) return;
  const joining = join(c, '192.168.90.1', { vni: null, port: null });
  await sleep(700);
  await c.client.put(`${c.prefix}/config`).value('{"Backend":{"VNI":77,"Port":4790}}');
  const a = await joining;
  assert.equal(a.net.vni, 77);
  assert.equal(a.net.port, 4790);
  assert.notEqual(await keyValue(c, keyOf(c, '192.168.90.1', 77)), null);
  assert.ok(a.logs.some((l) => /no network config at .*\/config/.test(l.msg)), 'the wait is logged');
  // An option overrides its field of the config.
  const b = await join(c, '192.168.90.2', { vni: null, port: 4789 });
  assert.equal(b.net.vni, 77);
  assert.equal(b.net.port, 4789);
  await until('a sees b with its port', () => a.flood.table.get('192.168.90.2')?.port === 4789);
});

test('l2 etcd: an etcd restart loses nothing: the flood list stays while etcd is down, the own key is there after, changes are caught up', async (t) => {
  const c = await prefixCtx(fx, t, { restoreEtcd: true });
  if (!c) return;
  const a = await join(c, '192.168.90.1', { ttlSeconds: 3 });
  const b = await join(c, '192.168.90.2', { ttlSeconds: 3 });
  await until('a sees b', () => a.flood.table.has('192.168.90.2'));
  await c.etcd.kill();
  await until('a sees etcd away', () => a.net.status().etcd?.reachable === false, 6000);
  await sleep(4000); // longer than the 3 s TTL
  assert.deepEqual(a.flood.ips(), ['192.168.90.2'], 'the last known list stays');
  assert.deepEqual(b.flood.ips(), ['192.168.90.1']);
  await c.etcd.start();
  const back = Date.now();
  await until('etcd reachable again', () => a.net.status().etcd?.reachable === true, 5000);
  await until('both keys are in etcd', async () => (await keyValue(c, keyOf(c, '192.168.90.1'))) !== null && (await keyValue(c, keyOf(c, '192.168.90.2'))) !== null, 5000);
  await c.client.put(keyOf(c, '192.168.90.3')).value('{"PublicIP":"192.168.90.3","Port":4789}');
  await until('a host added after the return is seen', () => a.flood.table.has('192.168.90.3') && b.flood.table.has('192.168.90.3'), 5000);
  assert.ok(Date.now() - back < 5000);
  // Settle: whatever happened to the keys meanwhile, both end with each other.
  await sleep(1000);
  assert.deepEqual(a.flood.ips(), ['192.168.90.2', '192.168.90.3']);
  assert.deepEqual(b.flood.ips(), ['192.168.90.1', '192.168.90.3']);
  assert.equal(a.net.status().lease?.held, true);
  assert.deepEqual([...a.flood.problems, ...b.flood.problems], []);
});

test('l2 etcd: a host cut off from etcd longer than its TTL leaves the others\' lists, keeps its own, and is back within 5 s of its return', async (t) => {
  const c = await prefixCtx(fx, t);
  if (!c) return;
  const proxy = c.use(EtcdProxy.forEndpoint(c.etcd.endpoint), (p) => p.stop());
  await proxy.start();
  const a = await join(c, '192.168.90.1', { ttlSeconds: 2, endpoint: proxy.endpoint });
  const b = await join(c, '192.168.90.2');
  await until('a sees b', () => a.flood.table.has('192.168.90.2'));
  await until('b sees a', () => b.flood.table.has('192.168.90.1'));

  const aBatches = a.flood.batches.length;
  proxy.cut();
  await until('a\'s key expired: b drops a', () => !b.flood.table.has('192.168.90.1'), 6000);
  await until('a knows etcd is away', () => a.net.status().etcd?.reachable === false, 5000);
  await sleep(1000);
  assert.deepEqual(a.flood.ips(), ['192.168.90.2'], 'a still floods to b meanwhile');
  assert.equal(a.flood.batches.length, aBatches);
  assert.equal(a.net.status().lease?.held, false, 'the registration is known to have run out');

  proxy.restore();
  const back = Date.now();
  await until('a\'s key is back: b has a again', () => b.flood.table.has('192.168.90.1'), 5000);
  assert.ok(Date.now() - back < 5000, `${Date.now() - back} ms`);
  await until('a holds its registration', () => a.net.status().lease?.held === true && a.net.status().etcd?.reachable === true, 5000);
  assert.ok(a.logs.some((l) => /(expired|is gone from etcd).*; putting it back/.test(l.msg)), a.logs.map((l) => l.msg).join('\n'));
  assert.deepEqual(b.flood.events(), ['removed 192.168.90.1', 'added 192.168.90.1']);
  assert.equal(a.flood.batches.length, aBatches, 'nothing changed for a');
  assert.deepEqual([...a.flood.problems, ...b.flood.problems], []);
});
