import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors';
import { etcd3Options, normalizeEndpoint } from '../../../src/control/etcd/client';
import { renewDelayMs } from '../../../src/control/etcd/lease-keeper';
import { backoffDelay, prefixEnd } from '../../../src/control/etcd/watch';

function field(fn: () => unknown): string | undefined {
  try { fn(); } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.field;
  }
  assert.fail('expected a ConfigError');
}

test('client: endpoints are normalized; host:port means http', () => {
  assert.equal(normalizeEndpoint('127.0.0.1:2379'), 'http://127.0.0.1:2379');
  assert.equal(normalizeEndpoint('http://10.0.0.1:12379'), 'http://10.0.0.1:12379');
  assert.equal(normalizeEndpoint('https://etcd.example:2379/'), 'https://etcd.example:2379');
  assert.equal(normalizeEndpoint('http://etcd'), 'http://etcd:2379');
  assert.equal(field(() => normalizeEndpoint('ftp://x:1')), 'etcd-endpoints');
  assert.equal(field(() => normalizeEndpoint('http://x:1/v2/keys')), 'etcd-endpoints');
});

test('client: options: deadlines on unary calls only, keepalives on', () => {
  const o = etcd3Options({ endpoints: ['http://127.0.0.1:2379'], callTimeoutMs: 1234 });
  assert.deepEqual(o.hosts, ['http://127.0.0.1:2379']);
  const f = o.defaultCallOptions as (ctx: { isStream: boolean }) => { deadline?: number };
  const d = f({ isStream: false }).deadline!;
  assert.ok(d > Date.now() + 1000 && d <= Date.now() + 1234);
  assert.deepEqual(f({ isStream: true }), {});
  assert.equal(o.grpcOptions?.['grpc.keepalive_time_ms'], 10_000);
  assert.equal(o.credentials, undefined);
  assert.equal(o.auth, undefined);
});

test('client: TLS files and auth', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-etcdtls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const f of ['ca.pem', 'cert.pem', 'key.pem']) writeFileSync(join(dir, f), `-----${f}-----\n`);
  const o = etcd3Options({
    endpoints: ['https://10.0.0.1:2379', 'https://10.0.0.2:2379'],
    cafile: join(dir, 'ca.pem'), certfile: join(dir, 'cert.pem'), keyfile: join(dir, 'key.pem'),
    username: 'root', password: 'pw',
  });
  assert.equal(o.credentials?.rootCertificate.toString(), '-----ca.pem-----\n');
  assert.equal(o.credentials?.certChain?.toString(), '-----cert.pem-----\n');
  assert.equal(o.credentials?.privateKey?.toString(), '-----key.pem-----\n');
  assert.deepEqual(o.auth, { username: 'root', password: 'pw' });
  // A client cert without a CA file trusts the system's CAs.
  const sys = etcd3Options({ endpoints: ['https://e:2379'], certfile: join(dir, 'cert.pem'), keyfile: join(dir, 'key.pem') });
  assert.ok(sys.credentials!.rootCertificate.length > 1000);
});

test('client: bad combinations are ConfigErrors naming the option', () => {
  assert.equal(field(() => etcd3Options({ endpoints: [] })), 'etcd-endpoints');
  assert.equal(field(() => etcd3Options({ endpoints: ['http://a:1', 'https://b:1'] })), 'etcd-endpoints');
  assert.equal(field(() => etcd3Options({ endpoints: ['https://a:1'], certfile: '/x' })), 'etcd-keyfile');
  assert.equal(field(() => etcd3Options({ endpoints: ['http://a:1'], cafile: '/x' })), 'etcd-cafile');
  assert.equal(field(() => etcd3Options({ endpoints: ['http://a:1'], username: 'u' })), 'etcd-password');
  assert.equal(field(() => etcd3Options({ endpoints: ['https://a:1'], cafile: '/nonexistent/ca.pem' })), 'etcd-cafile');
});

test('renewDelayMs: margin before expiry, but no later than a third of a short TTL', () => {
  assert.equal(renewDelayMs(86400, 3600), 82800_000);
  assert.equal(renewDelayMs(3, 3600), 1000);
  assert.equal(renewDelayMs(60, 10), 50_000);
});

test('backoffDelay: doubles from initial up to max, with jitter', () => {
  for (let i = 0; i < 50; i++) {
    const d1 = backoffDelay(1, { initialMs: 100, maxMs: 1000 });
    assert.ok(d1 >= 80 && d1 <= 120, String(d1));
    const d9 = backoffDelay(9, { initialMs: 100, maxMs: 1000 });
    assert.ok(d9 >= 800 && d9 <= 1200, String(d9));
  }
});

test('prefixEnd: the first key past a prefix', () => {
  assert.equal(prefixEnd(Buffer.from('/coreos.com/network/subnets/')).toString(), '/coreos.com/network/subnets0');
  assert.deepEqual(prefixEnd(Buffer.from([0x61, 0xff])), Buffer.from([0x62]));
  assert.deepEqual(prefixEnd(Buffer.from([0xff])), Buffer.from([0]));
});
