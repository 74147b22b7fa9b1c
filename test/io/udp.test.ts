/**
 * BatchUdpPort (recvmmsg + raw sendmmsg) and DgramUdpPort (node:dgram), in
 * network namespaces (Lab prefix vxt-udp-). Both run the same exchange
 * tests; the scenarios live in test/io/child-udp.ts.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { Lab, needNamespaces, waitFor } from '../helpers/netns';
import { asUser, runChild } from './child';

const lab = new Lab('vxt-udp-');
after(() => lab.cleanup());

const CHILD = path.join(__dirname, 'child-udp.js');
const LOOPBACK = 0x7f000001;

function udp(host: string, ...args: string[]): Record<string, unknown> {
  const r = runChild(lab, host, ['node', CHILD, ...args]);
  assert.equal(r.status, 0, `child ${args.join(' ')} failed (status ${r.status}): ${r.stderr}`);
  return r.result;
}

type Got = [size: number, addr: number, port: number, k: number, intact: boolean];

/** A plain dgram receiver (child-udp's recv-plain) in `host`, waiting for n datagrams: its port, then what it got. */
async function plainReceiver(host: string, n: number): Promise<{ port: number; got: () => Promise<{ port: number; addr: string; size: number; k: number }[]> }> {
  const recv = lab.spawn(host, ['node', CHILD, 'recv-plain', String(n)]);
  let out = '';
  recv.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  await waitFor('the receiver to be ready', () => out.includes('"ready"'), 10000, 20);
  const port = (JSON.parse(out.split('\n')[0]!) as { port: number }).port;
  return {
    port,
    got: async () => {
      if (recv.exitCode === null) await once(recv, 'exit');
      const lines = out.trim().split('\n');
      return (JSON.parse(lines[lines.length - 1]!) as { got: { port: number; addr: string; size: number; k: number }[] }).got;
    },
  };
}

const impls = [
  // The raw socket sends the source port the caller wrote (40000 + k).
  { impl: 'batch', srcPort: (k: number, _aPort: number) => 40000 + k },
  // dgram sends from its bound port.
  { impl: 'dgram', srcPort: (_k: number, aPort: number) => aPort },
] as const;

for (const { impl, srcPort } of impls) {
  test(`${impl}: a batch of 40 datagrams in one send() arrives with sizes, sender and ports, in few batches`, (t) => {
    if (!needNamespaces(t)) return;
    const host = `x-${impl}`;
    lab.addNs(host);
    const r = udp(host, 'exchange', impl);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.sent, 40);
    const got = r.got as Got[];
    assert.equal(got.length, 40);
    const byK = [...got].sort((a, b) => a[3] - b[3]);
    byK.forEach(([size, addr, port, k, intact], i) => {
      assert.equal(k, i);
      assert.equal(size, 50 + k * 20, `datagram ${k} size`);
      assert.equal(addr, LOOPBACK);
      assert.equal(port, srcPort(k, r.aPort as number), `datagram ${k} source port`);
      assert.equal(intact, true, `datagram ${k} bytes (copied before the slab was reused)`);
    });
    const batches = r.batches as number[];
    assert.ok(batches.length < 40, `${batches.length} onBatch calls for 40 datagrams`);
    assert.deepEqual(r.stats, { rxTruncated: 0, rxErrors: 0, txSkipped: 0, lastTxError: null });
    if (impl === 'batch') {
      // Two raw send sockets saw 40 UDP datagrams arrive; their filter queued none of them.
      assert.deepEqual(r.rawRxQueues, [0, 0]);
    }
  });

  test(`${impl}: datagrams longer than a slot are dropped and counted, the others keep order and bytes`, (t) => {
    if (!needNamespaces(t)) return;
    const host = `t-${impl}`;
    lab.addNs(host);
    const r = udp(host, 'truncate', impl);
    assert.equal(r.sent, 5);
    assert.equal(r.truncated, 2);
    const got = r.got as Got[];
    assert.deepEqual(got.map((g) => [g[0], g[3], g[4]]), [[100, 0, true], [256, 2, true], [120, 4, true]]);
  });

  test(`${impl}: binding a port in use gives EADDRINUSE as a SystemError`, (t) => {
    if (!needNamespaces(t)) return;
    const host = `b-${impl}`;
    lab.addNs(host);
    const r = udp(host, 'addr-in-use', impl);
    assert.equal(r.ok, false);
    assert.equal(r.isSystemError, true);
    assert.equal(r.sysErrno, 'EADDRINUSE');
    assert.equal(r.code, 'VXTAP_ERR_SYS_EADDRINUSE');
    assert.equal(r.syscall, 'bind');
  });

  test(`${impl}: close() inside onBatch stops the reader mid-burst; close twice; the process exits by itself`, (t) => {
    if (!needNamespaces(t)) return;
    const host = `s-${impl}`;
    lab.addNs(host);
    const run = runChild(lab, host, ['node', CHILD, 'stop-mid', impl], 10);
    assert.notEqual(run.status, 124, 'the child did not exit by itself: a handle is left open');
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(run.result, { ok: true, calls: 1 });
  });
}

test('batch: raw send with chosen source ports crosses the underlay to a plain receiver', async (t) => {
  if (!needNamespaces(t)) return;
  lab.underlay('sw', { ra: '10.77.0.1/24', rb: '10.77.0.2/24' });
  // A static neighbor, so the burst is not held back by ARP (and no ping is needed).
  const macB = (JSON.parse(lab.exec('rb', ['ip', '-j', 'link', 'show', 'eth0'])) as { address: string }[])[0]!.address;
  lab.exec('ra', ['ip', 'neigh', 'replace', '10.77.0.2', 'lladdr', macB, 'dev', 'eth0', 'nud', 'permanent']);
  const n = 20;
  const recv = await plainReceiver('rb', n);
  const sent = udp('ra', 'send-raw', '10.77.0.1', '10.77.0.2', String(recv.port), String(n));
  assert.deepEqual(sent, { ok: true, sent: n });
  const got = await recv.got();
  assert.equal(got.length, n);
  for (const g of got) {
    assert.equal(g.addr, '10.77.0.1');
    assert.equal(g.port, 50000 + g.k * 7, `datagram ${g.k} keeps its chosen source port`);
    assert.equal(g.size, 60 + g.k);
  }
});

test('batch offloads: UDP GSO runs from a pool port arrive whole through UDP GRO, cut into slots across batches', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('gso');
  const r = udp('gso', 'gso-exchange');
  const off = r.offload as { gso: { enabled: boolean; reason: string }; gro: { enabled: boolean } };
  assert.equal(off.gso.enabled, true, off.gso.reason);
  assert.equal(off.gro.enabled, true);
  const min = r.min as number;
  assert.equal(r.count, 64);
  assert.ok(min >= 49152 && min + 64 <= 65536 && min % 64 === 0, `pool ports ${min}..${min + 63}`);
  assert.equal(r.sent, 36, 'all but the datagram from outside the pool');
  assert.deepEqual(r.status, [...Array<number>(36).fill(0), 22], 'SendList.status: the one from outside the pool refused with EINVAL');
  assert.equal((r.txStats as { txSkipped: number; lastTxError: string }).txSkipped, 1);
  assert.equal((r.txStats as { lastTxError: string }).lastTxError, 'EINVAL');
  const got = (r.got as Got[]).sort((x, y) => x[3] - y[3]);
  assert.equal(got.length, 36);
  got.forEach(([size, addr, port, k, intact]) => {
    assert.equal(size, k < 30 ? 1000 : k === 30 ? 400 : 200, `datagram ${k} size`);
    assert.equal(addr, LOOPBACK);
    assert.equal(port, k <= 30 ? min + 3 : min + 9, `datagram ${k}: sent from the pool port its flow hash chose`);
    assert.equal(intact, true, `datagram ${k} bytes`);
  });
  // The run of 31 crossed as one GSO skb and came out of one GRO message.
  const gro = (r.rxStats as { gro: { messages: number; datagrams: number } }).gro;
  assert.ok(gro.messages >= 1 && gro.datagrams >= 31, `GRO: ${JSON.stringify(gro)}`);
});

test('batch offloads: a super-frame kept whole is cut at the send into exactly the segments the reader would cut', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('whole');
  const r = udp('whole', 'whole-send');
  assert.equal(r.segs, 4);
  assert.equal(r.sent, 2, 'both list entries: the super-frame (all 4 segments) and the plain datagram');
  const got = r.got as string[];
  assert.equal(got.length, 5);
  assert.deepEqual(got.slice(0, 4), r.want, 'VXLAN header + segment j, byte for byte (headers, checksums, payload)');
  assert.equal(got[4], r.plain);
  assert.equal((r.tx as { txSkipped: number }).txSkipped, 0);
  assert.deepEqual(r.status, [0, 0]);
});

test('issue #10: a super-frame kept whole and refused (EACCES for every segment) is one refused entry; the plain datagram after it is sent', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('whole-r');
  const r = udp('whole-r', 'whole-send', 'refused');
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.sent, 1);
  assert.deepEqual(r.status, [r.eacces, 0]);
  assert.deepEqual(r.got, [r.plain]);
  const tx = r.tx as { txSkipped: number; lastTxError: string };
  assert.deepEqual([tx.txSkipped, tx.lastTxError], [4, 'EACCES'], 'its 4 datagrams, refused as one GSO send');
});

test('batch offloads: a GSO send the kernel refuses (segments over the path MTU: EMSGSIZE) falls back for that send only: nothing lost, GSO stays on', async (t) => {
  if (!needNamespaces(t)) return;
  lab.underlay('gsw', { ga: '10.78.0.1/24', gb: '10.78.0.2/24' });
  // Segments of 1000 + 28 bytes do not fit an MTU of 1000: the kernel refuses the GSO send, EMSGSIZE.
  // Sent one by one without DF, they are fragmented and arrive.
  for (const h of ['ga', 'gb']) lab.exec(h, ['ip', 'link', 'set', 'eth0', 'mtu', '1000']);
  const macB = (JSON.parse(lab.exec('gb', ['ip', '-j', 'link', 'show', 'eth0'])) as { address: string }[])[0]!.address;
  lab.exec('ga', ['ip', 'neigh', 'replace', '10.78.0.2', 'lladdr', macB, 'dev', 'eth0', 'nud', 'permanent']);
  const n = 10;
  const recv = await plainReceiver('gb', 3 * n);
  const r = udp('ga', 'gso-fallback', '10.78.0.1', '10.78.0.2', String(recv.port), String(n));
  assert.deepEqual(r.gsoBefore, { enabled: true, reason: 'on' }, 'the probe cannot see this: only a send can');
  assert.deepEqual(r.sent, [n, n, n]);
  const zero = { messages: 0, datagrams: 0, fallbacks: 0, refused: 0, lastRefusal: null, unsegmented: 0, segmentLimit: null, disabled: null };
  assert.deepEqual(r.gso, [
    // The refused send went out again datagram by datagram; a 1000-byte segment is now known to be too long.
    { ...zero, fallbacks: 1, lastRefusal: 'EMSGSIZE', segmentLimit: 999 },
    // The next 1000-byte datagrams are not offered to GSO at all: sent one per message up front.
    { ...zero, fallbacks: 1, lastRefusal: 'EMSGSIZE', segmentLimit: 999, unsegmented: n },
    // Datagrams that fit the path MTU still leave as one GSO send.
    { ...zero, fallbacks: 1, lastRefusal: 'EMSGSIZE', segmentLimit: 999, unsegmented: n, messages: 1, datagrams: n },
  ]);
  assert.deepEqual(r.gsoAfter, { enabled: true, reason: 'on' }, 'one oversized send does not turn GSO off');
  assert.deepEqual(r.errors, [], 'nothing to log: GSO is still on');
  assert.equal((r.stats as { txSkipped: number }).txSkipped, 0);
  const got = await recv.got();
  assert.deepEqual(got.map((g) => g.k).sort((x, y) => x - y), [...Array(3 * n).keys()]);
  for (const g of got) {
    assert.equal(g.port, r.srcPort);
    assert.equal(g.size, g.k < 2 * n ? 1000 : 500);
  }
});

test('batch offloads: well-formed GSO sends refused (EINVAL) turn GSO off only after 8 in a row, once; nothing is lost', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('gsoff');
  const r = udp('gsoff', 'gso-refused', path.join(__dirname, '..', '..', '..', 'test', 'tools', 'sock-no-check.py'));
  const steps = r.steps as { sent: number; gso: Record<string, unknown>; state: { enabled: boolean; reason: string } }[];
  const zero = { messages: 0, datagrams: 0, fallbacks: 0, refused: 0, lastRefusal: null, unsegmented: 0, segmentLimit: null, disabled: null };
  // 10 refused runs, each followed by an accepted one: every refusal fell back alone, GSO stays on.
  assert.equal(steps[0]!.sent, 80);
  assert.deepEqual(steps[0]!.gso, { ...zero, messages: 10, datagrams: 40, fallbacks: 10, refused: 10, lastRefusal: 'EINVAL' });
  assert.deepEqual(steps[0]!.state, { enabled: true, reason: 'on' });
  // 8 refused in a row: GSO goes off, with the reason, said once.
  const reason = 'refused on send: EINVAL (8 well-formed GSO sends in a row)';
  assert.equal(steps[1]!.sent, 32);
  assert.deepEqual(steps[1]!.gso, { ...zero, messages: 10, datagrams: 40, fallbacks: 18, refused: 18, lastRefusal: 'EINVAL', disabled: reason });
  assert.deepEqual(steps[1]!.state, { enabled: false, reason });
  // Then one datagram per message: nothing more is refused.
  assert.equal(steps[2]!.sent, 16);
  assert.deepEqual(steps[2]!.gso, steps[1]!.gso);
  assert.deepEqual(r.errors, [{ code: 'VXTAP_ERR_SYS_EINVAL', fatal: false, message: `UDP GSO ${reason}: sending one datagram per message from now on` }]);
  assert.equal((r.txStats as { txSkipped: number }).txSkipped, 0);
  assert.equal(r.received, r.total, 'every datagram arrived');
  const sizes = (r.sizes as number[]).sort((x, y) => x - y);
  assert.deepEqual([...new Set(sizes)], [500, 600, 700, 800]);
});

test('batch: a datagram with no route is skipped and counted, the rest of the batch is sent', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('skip');
  const r = udp('skip', 'skip-unreachable');
  assert.deepEqual(r, { ok: true, sent: 2, got: 2, stats: { rxTruncated: 0, rxErrors: 0, txSkipped: 1, lastTxError: 'ENETUNREACH' } });
});

for (const mode of ['raw', 'gso', 'dgram'] as const) {
  test(`issue #10: ${mode} send: each refused datagram has its errno in status, the ones after it are sent; counters, trace and pcap blame the refused frame`, (t) => {
    if (!needNamespaces(t)) return;
    lab.addNs(`st-${mode}`);
    const r = udp(`st-${mode}`, 'send-status', mode);
    assert.equal(r.ok, true, JSON.stringify(r));
    const e = r.errno as Record<string, number>;
    if (mode === 'dgram') {
      // Port 0 is refused by dgram at once; kernel errors would come later, in a callback.
      assert.equal(r.sent, 2);
      assert.deepEqual(r.status, [0, e.EINVAL, 0]);
      assert.deepEqual(r.arrived, [0, 2]);
    } else {
      assert.equal(r.sent, 3);
      assert.deepEqual(r.status, [0, e.EACCES, 0, e.EMSGSIZE, 0], 'broadcast without SO_BROADCAST: EACCES; over 65507 bytes: EMSGSIZE');
      assert.deepEqual(r.arrived, [0, 2, 4]);
      assert.deepEqual(r.txStats, { txSkipped: 2, lastTxError: 'EMSGSIZE' });
    }
    // The middle frame (84 bytes) is the udp-send drop; the other two (74 + 94 bytes) were encapsulated.
    assert.deepEqual(r.counters, { encapFrames: 2, encapBytes: 74 + 94, udpSend: 1, tapDrops: 1 });
    assert.deepEqual(r.trace, [[74, 'encap', null], [84, 'drop', 'udp-send'], [94, 'encap', null]]);
    assert.deepEqual(r.pcapSent, [['127.0.0.1', 74], ['127.0.0.1', 94]], 'the pcap holds the two datagrams sent');
  });
}

test('batch: without CAP_NET_RAW the raw socket is refused with EPERM', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('perm');
  const r = runChild(lab, 'perm', asUser(65534, ['node', CHILD, 'raw-eperm']));
  assert.equal(r.result.ok, false, r.stderr);
  assert.equal(r.result.isSystemError, true);
  assert.equal(r.result.sysErrno, 'EPERM');
  assert.equal(r.result.syscall, 'socket');
});

test('batch: a Worker terminated with a running reader, and process.exit() with one, end cleanly', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('down');
  const r = runChild(lab, 'down', ['node', CHILD, 'teardown'], 15);
  assert.equal(r.status, 0, `status ${r.status} (139 is a crash in teardown): ${r.stderr}`);
  assert.deepEqual(r.result, { ok: true, workerExitCodes: [1, 1] });
});
