/**
 * What the etcd3 package's watcher (1.1.2) does on compaction, on a lost
 * connection and on a frozen etcd, pinned down against a real etcd. These
 * are the reasons src/control/etcd/watch.ts wraps it; if an etcd3 upgrade
 * changes one of them, this file says which.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Etcd3, type IWatchResponse, type Watcher } from 'etcd3';
import { createEtcdClient } from '../../../src/control/etcd/client';
import { closer, EtcdFixture, EtcdProxy, sleep, until } from '../../helpers/etcd';

const fx = new EtcdFixture();
after(() => fx.stop());

interface Seen { ev: string; at: number; detail: string }

function record(w: Watcher): Seen[] {
  const seen: Seen[] = [];
  const t0 = Date.now();
  for (const ev of ['connected', 'disconnected', 'error', 'end'] as const) {
    w.on(ev as 'connected', (x: unknown) => {
      seen.push({ ev, at: Date.now() - t0, detail: x instanceof Error ? x.message : '' });
    });
  }
  w.on('data', (res: IWatchResponse) => {
    seen.push({ ev: 'data', at: Date.now() - t0, detail: res.events.map((e) => `${e.type} ${e.kv.key.toString()}`).join(',') });
  });
  return seen;
}

async function cancel(w: Watcher): Promise<void> {
  await Promise.race([w.cancel().catch(() => undefined), sleep(2000)]);
}

test('etcd3 watcher: from a compacted revision it connects, then errors "Watcher canceled" and never retries; lastRevision has jumped', async (t) => {
  const etcd = await fx.etcd(t);
  if (!etcd) return;
  const use = closer(t);
  const client = use(new Etcd3({ hosts: etcd.endpoint }), (c) => c.close());
  const p = fx.prefix();
  await client.put(`${p}/a`).value('1');
  const rev0 = Number((await client.getAll().prefix(`${p}/`).exec()).header.revision);
  for (let i = 0; i < 3; i++) await client.put(`${p}/b`).value(String(i));
  await client.delete().key(`${p}/a`);
  const compactedAt = await etcd.compact();

  const w = client.watch().prefix(`${p}/`).startRevision(String(rev0 + 1)).watcher();
  const seen = record(w);
  await until('the error', () => seen.some((s) => s.ev === 'error'));
  await sleep(500);
  assert.deepEqual(seen.map((s) => s.ev), ['connected', 'error'], JSON.stringify(seen));
  assert.equal(seen[1]!.detail, 'Watcher canceled: ', 'no reason, no compact revision passed on');
  // The created response's header moved lastRevision to the current revision + 1:
  // a restart from it would skip the compacted changes without a word.
  assert.equal(Number(w.lastRevision()), compactedAt + 1);
});

test('etcd3 watcher: on a lost connection, "disconnected" comes twice per attempt and repeats; it reconnects and replays by itself', async (t) => {
  const etcd = await fx.etcd(t);
  if (!etcd) return;
  const use = closer(t);
  const proxy = use(EtcdProxy.forEndpoint(etcd.endpoint), (x) => x.stop());
  await proxy.start();
  const direct = use(new Etcd3({ hosts: etcd.endpoint }), (c) => c.close());
  // createEtcdClient only for its short watch backoff: etcd3's default (up to 30 s) leaves
  // that many seconds of timers behind, which keep the process alive after close().
  const client = use(createEtcdClient({ endpoints: [proxy.endpoint] }), (c) => c.close());
  const p = fx.prefix();
  const w = use(client.watch().prefix(`${p}/`).watcher(), cancel);
  const seen = record(w);
  await until('connected', () => seen.some((s) => s.ev === 'connected'));

  proxy.cut();
  await direct.put(`${p}/while-cut`).value('1');
  await sleep(1500);
  const lost = seen.filter((s) => s.ev === 'disconnected');
  assert.ok(lost.length >= 3, `disconnected ${lost.length} times: ${JSON.stringify(seen)}`);

  proxy.restore();
  await until('the replayed put', () => seen.some((s) => s.ev === 'data' && s.detail.includes('while-cut')), 8000);
  assert.equal(seen.filter((s) => s.ev === 'connected').length, 2);
});

test('etcd3 watcher: a frozen etcd (SIGSTOP) goes unnoticed without gRPC keepalive, and is seen with it', async (t) => {
  const etcd = await fx.etcd(t);
  if (!etcd) return;
  const use = closer(t);
  t.after(() => etcd.resume());
  const plain = use(new Etcd3({ hosts: etcd.endpoint }), (c) => c.close());
  const kept = use(createEtcdClient({ endpoints: [etcd.endpoint], keepaliveMs: 500, keepaliveTimeoutMs: 500 }), (c) => c.close());
  const p = fx.prefix();
  const w1 = use(plain.watch().prefix(`${p}/`).watcher(), cancel);
  const w2 = use(kept.watch().prefix(`${p}/`).watcher(), cancel);
  const s1 = record(w1);
  const s2 = record(w2);
  await until('both connected', () => s1.length > 0 && s2.length > 0);

  etcd.pause();
  await until('the keepalive client sees the loss', () => s2.some((s) => s.ev === 'disconnected'), 5000);
  assert.deepEqual(s1.map((s) => s.ev), ['connected'], 'without keepalive: nothing');
  etcd.resume();
  await plain.put(`${p}/after`).value('1');
  await until('both get the put', () => s1.some((s) => s.ev === 'data') && s2.some((s) => s.ev === 'data'), 8000);
});
