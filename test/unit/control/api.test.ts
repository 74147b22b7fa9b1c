/**
 * The control API without root: the line codec with crafted input, then a
 * real server and client over a Unix socket in a temp dir, in front of a fake
 * node (real tables and counters, a fake installer).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection, createServer } from 'node:net';
import { linkSync, mkdirSync, mkdtempSync, rmSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ArpTable } from '../../../src/switch/arp-table';
import { Counters, DropReason } from '../../../src/switch/counters';
import { Fdb } from '../../../src/switch/fdb';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';
import type { Peer } from '../../../src/control/peers';
import {
  CONTROL_ERR, ControlError, LineDecoder, decodeRequest, decodeResponse, encodeError, encodeOk, encodeRequest,
} from '../../../src/control/api/protocol';
import { ControlServer } from '../../../src/control/api/server';
import { exchange, request } from '../../../src/control/api/client';
import { explainRequest, type ExplainData } from '../../../src/control/api/explain';
import { MAX_FRAME } from '../../../src/switch/dry-run';
import { defaultSocketDir, listSockets, resolveSocket } from '../../../src/control/api/paths';
import type { Inspectable } from '../../../src/control/api/views';
import { VxtapError } from '../../../src/errors';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'vxtap-api-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_700_000_000_000;
const PEER: Peer = { subnet: '10.44.2.0/24', publicIp: '192.168.90.2', vtepMac: '02:76:c0:a8:5a:02' };
const INFO = { vni: 42, port: 4789, subnet: '10.44.1.0/24', publicIp: '192.168.90.1', vtepMac: '02:76:c0:a8:5a:01', io: 'batch' };

function fakeNode(): Inspectable & { counters: Counters } {
  const fdb = new Fdb();
  const arp = new ArpTable();
  const counters = new Counters();
  fdb.set(macKeyFromString(PEER.vtepMac), parseIpv4(PEER.publicIp), 4789, T0);
  arp.set(parseIpv4('10.44.2.0'), macKeyFromString(PEER.vtepMac));
  arp.set(parseIpv4('10.44.9.9'), macKeyFromString('02:00:00:00:00:09')); // belongs to no peer
  counters.encapFrames = 3;
  counters.drop(DropReason.VXLAN_UNKNOWN_VNI);
  return {
    sw: { fdb, arp, counters },
    installer: { peers: [PEER], failed: new Map([['10.44.5.0/24', 'RTNETLINK: Network unreachable']]), routeConflicts: 2 },
    tapName: 'vxtap.42',
    stats: () => ({ tapPort: { rxTruncated: 0, rxErrors: 0, txSkipped: 0, lastTxError: null }, udpPort: { rxTruncated: 0, rxErrors: 1, txSkipped: 0, lastTxError: 'ENOBUFS' } }),
    counters,
  };
}

let n = 0;
async function withServer(fn: (path: string, node: ReturnType<typeof fakeNode>, srv: ControlServer) => Promise<void>): Promise<void> {
  const path = join(dir, `s${n++}`, 'ctl.sock');
  const node = fakeNode();
  const srv = await ControlServer.start({ node, info: INFO, path, log, now: () => T0 + 12_500 });
  try {
    await fn(path, node, srv);
  } finally {
    await srv.close();
  }
}

/** Sends raw bytes, collects `lines` response lines (or until the server closes). */
function raw(path: string, bytes: string | Buffer, lines: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const c = createConnection(path);
    let buf = '';
    const done = (): void => { c.destroy(); resolve(buf.split('\n').filter(Boolean)); };
    c.on('connect', () => c.write(bytes));
    c.on('data', (d: Buffer) => { buf += d.toString(); if (buf.split('\n').length > lines) done(); });
    c.on('end', done);
    c.on('error', reject);
  });
}

test('codec: request and response lines, golden text', () => {
  assert.equal(encodeRequest('fdb'), '{"cmd":"fdb"}\n');
  assert.deepEqual(decodeRequest('{"cmd":"arp","extra":1}'), { cmd: 'arp' }, 'unknown fields are ignored');
  assert.equal(encodeOk([{ a: 1 }]), '{"ok":true,"data":[{"a":1}]}\n');
  assert.equal(encodeError('X', 'm'), '{"ok":false,"error":{"code":"X","message":"m"}}\n');
  assert.deepEqual(decodeResponse('{"ok":true,"data":{"x":2}}'), { ok: true, data: { x: 2 } });
  assert.deepEqual(decodeResponse('{"ok":false,"error":{"code":"C","message":"m"}}'), { ok: false, error: { code: 'C', message: 'm' } });
  for (const bad of ['nope', '[]', '{"cmd":3}', '{}', 'null']) {
    assert.throws(() => decodeRequest(bad), (e: ControlError) => e.code === CONTROL_ERR.BAD_REQUEST, bad);
  }
  for (const bad of ['x', '{"ok":true}', '{"ok":false,"error":"x"}']) {
    assert.throws(() => decodeResponse(bad), (e: ControlError) => e.code === CONTROL_ERR.IO, bad);
  }
});

test('codec: lines split across chunks, several per chunk, CRLF, UTF-8 cut mid-character', () => {
  const d = new LineDecoder();
  assert.deepEqual(d.push(Buffer.from('{"cmd":')), []);
  assert.deepEqual(d.push(Buffer.from('"fdb"}\n{"cmd":"arp"}\r\n{"c')), ['{"cmd":"fdb"}', '{"cmd":"arp"}']);
  const e = Buffer.from('"é"}\n'); // é is 2 bytes: cut between them
  assert.deepEqual(d.push(e.subarray(0, 2)), []);
  assert.deepEqual(d.push(e.subarray(2)), ['{"c"é"}']);
  const small = new LineDecoder(8);
  assert.deepEqual(small.push(Buffer.from('12345678\n')), ['12345678']);
  assert.throws(() => small.push(Buffer.from('1234')) && small.push(Buffer.from('56789')), (err: ControlError) => err.code === CONTROL_ERR.TOO_LONG);
});

test('server: fdb, arp, peers, stats from the node', async () => {
  await withServer(async (path) => {
    assert.deepEqual(await request(path, 'fdb'), [{ mac: PEER.vtepMac, vtep: PEER.publicIp, port: 4789, kind: 'static', ageSeconds: 12 }]);
    assert.deepEqual(await request(path, 'arp'), [
      { ip: '10.44.2.0', mac: PEER.vtepMac, subnet: PEER.subnet, publicIp: PEER.publicIp },
      { ip: '10.44.9.9', mac: '02:00:00:00:00:09', subnet: null, publicIp: null },
    ]);
    assert.deepEqual(await request(path, 'peers'), [
      { ...PEER, route: '10.44.2.0/24 via 10.44.2.0 dev vxtap.42 onlink', error: null },
      { subnet: '10.44.5.0/24', publicIp: null, vtepMac: null, route: null, error: 'RTNETLINK: Network unreachable' },
    ]);
    const s = await request(path, 'stats');
    assert.equal(s.uptimeSeconds, 0);
    assert.equal(s.pid, process.pid);
    assert.deepEqual({ ...s, uptimeSeconds: 0, pid: 0, counters: null }, {
      mode: 'routed', tap: 'vxtap.42', ...INFO, pid: 0, uptimeSeconds: 0, counters: null,
      ports: { tap: { rxTruncated: 0, rxErrors: 0, txSkipped: 0, lastTxError: null }, udp: { rxTruncated: 0, rxErrors: 1, txSkipped: 0, lastTxError: 'ENOBUFS' } },
      tables: { fdb: 1, arp: 2, peers: 1 },
      routes: { protocol: 118, conflicts: 2, failedPeers: 1 },
    });
    assert.equal(s.counters.encapFrames, 3);
    assert.equal(s.counters.drops['vxlan-unknown-vni'], 1);
    assert.equal(s.counters.drops['unknown-vtep'], 0);
  });
});

test('L2 node: fdb adds one flood row per VTEP (MAC 00:00:00:00:00:00, as bridge fdb), arp is the suppression table with the VTEP behind each MAC, peers lists the VTEPs, stats says l2 with the flood list size', async () => {
  const path = join(dir, `s${n++}`, 'ctl.sock');
  const base = fakeNode();
  (base.sw.fdb as Fdb).learn(macKeyFromString('aa:bb:cc:00:00:01'), parseIpv4('192.168.90.3'), 4789, T0 + 2_000);
  const vteps = [{ publicIp: '192.168.90.2', port: 4789, vtepMac: null, macs: [] }, { publicIp: '192.168.90.3', port: 4789, vtepMac: '02:76:c0:a8:5a:03', macs: [] }];
  const node: Inspectable = {
    ...base,
    installer: { peers: [], failed: new Map([['192.168.90.9', 'bad UDP port 0']]), routeConflicts: 0 },
    vteps: () => vteps,
    l2Arp: () => [{ ip: '10.77.0.3', mac: 'aa:bb:cc:00:00:01', kind: 'learned', updatedAt: T0 + 9_000 }, { ip: '10.77.0.9', mac: '02:00:00:00:00:09', kind: 'static', updatedAt: T0 }],
  };
  const srv = await ControlServer.start({ node, info: { ...INFO, subnet: '-' }, path, log, now: () => T0 + 12_500 });
  try {
    const fdb = await request(path, 'fdb');
    assert.deepEqual(fdb.filter((r) => r.kind !== 'static'), [
      { mac: 'aa:bb:cc:00:00:01', vtep: '192.168.90.3', port: 4789, kind: 'learned', ageSeconds: 10 },
      { mac: '00:00:00:00:00:00', vtep: '192.168.90.2', port: 4789, kind: 'flood', ageSeconds: 0 },
      { mac: '00:00:00:00:00:00', vtep: '192.168.90.3', port: 4789, kind: 'flood', ageSeconds: 0 },
    ]);
    assert.deepEqual(await request(path, 'peers'), [
      { subnet: '-', publicIp: '192.168.90.2', vtepMac: null, route: 'flood list (UDP port 4789)', error: null },
      { subnet: '-', publicIp: '192.168.90.3', vtepMac: '02:76:c0:a8:5a:03', route: 'flood list (UDP port 4789)', error: null },
      { subnet: '-', publicIp: '192.168.90.9', vtepMac: null, route: null, error: 'bad UDP port 0' },
    ]);
    assert.deepEqual(await request(path, 'arp'), [
      { ip: '10.77.0.3', mac: 'aa:bb:cc:00:00:01', subnet: null, publicIp: '192.168.90.3', kind: 'learned', ageSeconds: 3 },
      { ip: '10.77.0.9', mac: '02:00:00:00:00:09', subnet: null, publicIp: null, kind: 'static', ageSeconds: 12 },
    ]);
    const s = await request(path, 'stats');
    assert.equal(s.mode, 'l2');
    assert.equal(s.tables.arp, 2, 'the suppression table, not the routed ARP table');
    assert.equal(s.tables.floodList, 2);
    assert.equal(s.counters.l2.learned, 0, 'the fake learned through the FDB directly, not the switch: the counter is the switch\'s');
  } finally {
    await srv.close();
  }
});

test('server: the answers are live (a change shows in the next request)', async () => {
  await withServer(async (path, node) => {
    node.counters.drop(DropReason.VXLAN_UNKNOWN_VNI, 4);
    assert.equal((await request(path, 'stats')).counters.drops['vxlan-unknown-vni'], 5);
  });
});

test('server: unknown command, bad lines, several requests on one connection, blank lines', async () => {
  await withServer(async (path) => {
    const res = await exchange(path, 'fbd');
    assert.deepEqual(res, { ok: false, error: { code: CONTROL_ERR.UNKNOWN_COMMAND, message: 'unknown command "fbd" (commands: fdb, arp, peers, stats, explain)' } });
    await assert.rejects(request(path, 'fbd' as 'fdb'), (e: ControlError) => e.code === CONTROL_ERR.UNKNOWN_COMMAND && e instanceof VxtapError);
    const lines = await raw(path, 'not json\n\n{"cmd":"peers"}\n{"nocmd":1}\n', 3);
    assert.equal(lines.length, 3);
    assert.equal((JSON.parse(lines[0]!) as { error: { code: string } }).error.code, CONTROL_ERR.BAD_REQUEST);
    assert.equal((JSON.parse(lines[1]!) as { ok: boolean }).ok, true);
    assert.equal((JSON.parse(lines[2]!) as { error: { code: string } }).error.code, CONTROL_ERR.BAD_REQUEST);
  });
});

test('server: a runaway line gets TOO_LONG and the connection is closed; the server goes on', async () => {
  await withServer(async (path) => {
    const lines = await raw(path, Buffer.alloc(70 * 1024, 0x61), 1);
    assert.equal((JSON.parse(lines[0]!) as { error: { code: string } }).error.code, CONTROL_ERR.TOO_LONG);
    assert.equal((await request(path, 'fdb')).length, 1);
  });
});

test('server: the socket is 0600, and close() removes it', async () => {
  let p = '';
  await withServer(async (path) => {
    p = path;
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.ok(statSync(path).isSocket());
  });
  assert.equal(existsSync(p), false);
});

test('server: a stale socket (nobody listening) is replaced; a live one is not', async () => {
  const sub = join(dir, 'stale');
  mkdirSync(sub);
  const path = join(sub, 'ctl.sock');
  // A socket file with no listener: bind, hard-link the file, close (which unlinks the original).
  const tmp = join(sub, 'tmp.sock');
  const s = createServer();
  await new Promise<void>((r) => s.listen(tmp, r));
  linkSync(tmp, path);
  await new Promise<void>((r) => s.close(() => r()));
  assert.ok(statSync(path).isSocket());
  await assert.rejects(request(path, 'fdb'), (e: ControlError) => e.code === CONTROL_ERR.STALE && /stale socket/.test(e.message));

  const srv = await ControlServer.start({ node: fakeNode(), info: INFO, path, log });
  try {
    assert.equal((await request(path, 'fdb')).length, 1, 'the new daemon answers');
    await assert.rejects(ControlServer.start({ node: fakeNode(), info: INFO, path, log }),
      (e: ControlError) => e.code === CONTROL_ERR.IN_USE && e.message.includes(path));
    assert.equal((await request(path, 'fdb')).length, 1, 'the live daemon is not displaced');
  } finally {
    await srv.close();
  }
  writeFileSync(path, 'not a socket');
  await assert.rejects(ControlServer.start({ node: fakeNode(), info: INFO, path, log }), (e: ControlError) => e.code === CONTROL_ERR.PATH && /not a socket/.test(e.message));
});

test('client: no socket, and a path over the Unix limit', async () => {
  await assert.rejects(request(join(dir, 'none.sock'), 'fdb'), (e: ControlError) => e.code === CONTROL_ERR.NO_DAEMON && /is `vxtap run` running\?/.test(e.message));
  await assert.rejects(ControlServer.start({ node: fakeNode(), info: INFO, path: join(dir, 'x'.repeat(120)), log }), (e: ControlError) => e.code === CONTROL_ERR.PATH && /over the 107/.test(e.message));
});

test('paths: finding the daemon in a directory: none, one, several, --tap, --control-socket', async () => {
  const d = join(dir, 'run');
  mkdirSync(d);
  assert.throws(() => resolveSocket({}, d), (e: ControlError) => e.code === CONTROL_ERR.NO_DAEMON && e.message === `no vxtap daemon found in ${d} (is \`vxtap run\` running?)`);
  assert.throws(() => resolveSocket({}, join(d, 'absent')), (e: ControlError) => e.code === CONTROL_ERR.NO_DAEMON);
  const a = await ControlServer.start({ node: fakeNode(), info: INFO, path: join(d, 'vxtap.42.sock'), log });
  try {
    writeFileSync(join(d, 'notes.sock'), ''); // not a socket: not a candidate
    assert.equal(resolveSocket({}, d), join(d, 'vxtap.42.sock'));
    const b = await ControlServer.start({ node: fakeNode(), info: INFO, path: join(d, 'vxtap.7.sock'), log });
    try {
      assert.deepEqual(listSockets(d), ['vxtap.42', 'vxtap.7']);
      assert.throws(() => resolveSocket({}, d), (e: VxtapError) => e.code === 'VXTAP_ERR_CONFIG' && e.message.includes('vxtap.42, vxtap.7') && e.message.includes('--tap'));
      assert.equal(resolveSocket({ tap: 'vxtap.7' }, d), join(d, 'vxtap.7.sock'));
      assert.throws(() => resolveSocket({ tap: 'vxtap.9' }, d), (e: ControlError) => e.code === CONTROL_ERR.NO_DAEMON && e.message.includes('daemons here: vxtap.42, vxtap.7'));
      assert.throws(() => resolveSocket({ tap: '../x' }, d), (e: VxtapError) => e.code === 'VXTAP_ERR_CONFIG');
      assert.equal(resolveSocket({ controlSocket: '/x/y.sock', tap: 'vxtap.7' }, d), '/x/y.sock', '--control-socket wins');
    } finally {
      await b.close();
    }
  } finally {
    await a.close();
  }
});

test('paths: the default directory is /run/vxtap in the host namespace, per namespace elsewhere', () => {
  assert.equal(defaultSocketDir(null), '/run/vxtap');
  assert.equal(defaultSocketDir('blue'), '/run/vxtap/netns/blue');
});

test('explain: a frame longer than the dry run\'s slot is BAD_REQUEST naming the limit, not INTERNAL', async () => {
  const ok = explainRequest({ side: 'tap', frame: 'ab'.repeat(MAX_FRAME) });
  assert.equal(ok.frame.length, MAX_FRAME, 'the limit itself is taken');
  assert.throws(() => explainRequest({ side: 'tap', frame: 'ab'.repeat(MAX_FRAME + 1) }),
    (e: ControlError) => e.code === CONTROL_ERR.BAD_REQUEST && e.message.includes(`${MAX_FRAME + 1} bytes: the limit is ${MAX_FRAME}`), 'named');
  // Through a server: the answer is the same BAD_REQUEST, and nothing is logged as an error.
  const lines: { level: number; msg: string }[] = [];
  const errLog = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as { level: number; msg: string }); } });
  const node = { ...fakeNode(), explain: async (): Promise<ExplainData> => { throw new RangeError('the dry run was asked'); } };
  const path = join(dir, `s${n++}`, 'ctl.sock');
  const srv = await ControlServer.start({ node, info: INFO, path, log: errLog });
  try {
    const res = await exchange(path, 'explain', 5000, { side: 'net', from: '192.168.90.2:4789', frame: '00'.repeat(20_000) });
    assert.ok(!res.ok && res.error.code === CONTROL_ERR.BAD_REQUEST && /20000 bytes: the limit is/.test(res.error.message), JSON.stringify(res));
    assert.deepEqual(lines.filter((l) => l.level >= 50), []);
  } finally {
    await srv.close();
  }
});

test('server: an answer that fails after the fact (a rejected promise in the answer queue) is logged and answered INTERNAL; no unhandled rejection, the server goes on', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (err: unknown): void => { unhandled.push(err); };
  process.on('unhandledRejection', onUnhandled);
  const lines: { level: number; msg: string }[] = [];
  const errLog = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as { level: number; msg: string }); } });
  // explain's data that JSON cannot encode (a BigInt): encodeOk throws inside the promise.
  const node = { ...fakeNode(), explain: async (): Promise<ExplainData> => ({ bad: 1n }) as unknown as ExplainData };
  const path = join(dir, `s${n++}`, 'ctl.sock');
  const srv = await ControlServer.start({ node, info: INFO, path, log: errLog });
  try {
    const res = await exchange(path, 'explain', 5000, { side: 'tap', frame: '00'.repeat(60) });
    assert.ok(!res.ok && res.error.code === CONTROL_ERR.INTERNAL, JSON.stringify(res));
    // And should answer() itself reject (it is not meant to), the queue's own handler catches it.
    const answer = srv.answer.bind(srv);
    srv.answer = (line: string) => (line.includes('"stats"') ? Promise.reject(new Error('boom')) : answer(line));
    const [got] = await raw(path, '{"cmd":"stats"}\n', 1);
    assert.equal((JSON.parse(got!) as { error: { code: string; message: string } }).error.code, CONTROL_ERR.INTERNAL);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(unhandled, []);
    assert.ok(lines.some((l) => l.level === 50 && /answering \{"cmd":"stats"\} failed/.test(l.msg)), lines.map((l) => l.msg).join('\n'));
    assert.equal((await request(path, 'fdb')).length, 1, 'the server still answers');
  } finally {
    process.off('unhandledRejection', onUnhandled);
    await srv.close();
  }
});
