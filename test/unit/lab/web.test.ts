/**
 * `lab web`'s server and data without a lab: a lab.json and a trace file
 * written by hand in a temp state dir, no daemon behind the control socket.
 * The routes answer from the state, the trace tail reads whole lines only,
 * an unknown host is a 404 with the lab's code, a daemon that is not there
 * is shown as down (with the control client's message), not an error page.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import http from 'node:http';
import { join } from 'node:path';
import { makeShell } from '../../../src/lab/shell';
import type { LabState } from '../../../src/lab/state';
import { readLines, topologyOf } from '../../../src/lab/web/data';
import { LabWebServer } from '../../../src/lab/web/server';

const dir = mkdtempSync(join(tmpdir(), 'vxtap-web-unit-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function record(seq: number, decision: string): string {
  return JSON.stringify({
    seq, time: '2026-11-30T00:00:00.000Z', tsUs: seq, dir: 'tap', len: 98, outer: null,
    layers: [{ name: 'IPv4', offset: 14, length: 20, fields: { src: '10.44.1.2', dst: '10.44.2.2', protocol: 'ICMP' }, summary: 'IPv4 10.44.1.2 > 10.44.2.2 proto ICMP' }],
    decodeError: null, hex: null, decision, drop: null, reason: `${decision} #${seq}`,
    lookups: [{ table: 'fdb', key: 'x', hit: true, result: null, peer: null, text: `FDB hit #${seq}` }],
    encap: decision === 'encap' ? { vni: 1, vtep: '192.168.93.2', dstPort: 4789, srcPort: 50000, overhead: 50, wireLen: 148 } : null,
    flood: null, reply: null,
  });
}

function labState(stateDir: string): LabState {
  const host = (n: number, kind: 'vxtap' | 'kernel') => ({
    name: kind === 'vxtap' ? `h${n}` : 'k1', kind, ns: `vxu-h${n}`, containerNs: `vxu-h${n}-c`, ip: `192.168.93.${n}`,
    subnet: `10.44.${n}.0/24`, containerIp: `10.44.${n}.2`, vtepMac: null, pid: null, log: null,
    trace: kind === 'vxtap' ? join(stateDir, `h${n}.trace.jsonl`) : null, subnetFile: null,
    socket: join(stateDir, `h${n}.sock`), // nobody listens there
  });
  return {
    version: 1, phase: 'up', prefix: 'vxu-', stateDir, createdAt: '2026-11-30T00:00:00Z',
    options: { hosts: 2, kernelPeer: true, network: '10.44.0.0/16', vni: 1, port: 4789, underlay: '192.168.93.0/24', trace: true },
    underlayNs: 'vxu-underlay', tap: 'vxtap.1', vxlanDev: 'flannel.1',
    etcd: { ns: 'vxu-etcd', ip: '192.168.93.250', endpoint: 'http://192.168.93.250:2379', pid: null, dataDir: join(stateDir, 'etcd-data'), log: join(stateDir, 'etcd.log') },
    hosts: [host(1, 'vxtap'), host(2, 'vxtap'), host(3, 'kernel')],
  };
}

test('topology: every host, and a tunnel for every pair', () => {
  const t = topologyOf(labState('/tmp/x'));
  assert.deepEqual(t.hosts.map((h) => `${h.name}:${h.kind}:${h.traced}`), ['h1:vxtap:true', 'h2:vxtap:true', 'k1:kernel:false']);
  assert.deepEqual(t.tunnels.map((x) => x.id), ['h1-h2', 'h1-k1', 'h2-k1']);
});

test('readLines: whole lines from an offset; a line still being written waits', () => {
  const f = join(dir, 'lines');
  writeFileSync(f, 'one\ntwo\nthr');
  const a = readLines(f, 0);
  assert.deepEqual(a.lines, ['one', 'two']);
  assert.equal(a.end, 8);
  appendFileSync(f, 'ee\nfour\n');
  assert.deepEqual(readLines(f, a.end).lines, ['three', 'four']);
  // Read from the middle of a file with a cap: the first, cut, line is left out.
  assert.deepEqual(readLines(f, 0, 9).lines, ['four']);
  assert.deepEqual(readLines(join(dir, 'absent'), 0), { lines: [], end: 0 });
});

test('the routes: topology, trace tail, an unknown host, a daemon that is not there', async () => {
  const stateDir = join(dir, 'state');
  const st = labState(stateDir);
  rmSync(stateDir, { recursive: true, force: true });
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(stateDir, 'lab.json'), JSON.stringify(st));
  writeFileSync(st.hosts[0]!.trace!, [record(1, 'arp-reply'), JSON.stringify({ notice: 'tracing' }), record(2, 'encap'), record(3, 'drop')].join('\n') + '\n' + record(4, 'encap').slice(0, 30));
  const web = new LabWebServer({ prefix: 'vxu-', stateDir }, makeShell(null));
  const url = await web.listen({ port: 0 });
  try {
    const topo = await (await fetch(`${url}api/topology`)).json() as { hosts: { name: string }[] };
    assert.deepEqual(topo.hosts.map((h) => h.name), ['h1', 'h2', 'k1']);

    const tr = await (await fetch(`${url}api/trace?host=h1&n=2`)).json() as { traced: boolean; frames: { seq: number; decision: string; lookups: string[]; encapTo: string | null }[] };
    assert.equal(tr.traced, true);
    assert.deepEqual(tr.frames.map((f) => `${f.seq}:${f.decision}`), ['2:encap', '3:drop'], 'the last two whole records; the notice and the half-written line are left out');
    assert.deepEqual(tr.frames[0]!.lookups, ['FDB hit #2']);
    assert.equal(tr.frames[0]!.encapTo, '192.168.93.2');
    const kt = await (await fetch(`${url}api/trace?host=k1`)).json() as { traced: boolean; frames: unknown[] };
    assert.deepEqual(kt, { host: 'k1', kind: 'kernel', traced: false, frames: [] });

    const nope = await fetch(`${url}api/trace?host=h9`);
    assert.equal(nope.status, 404);
    assert.equal((await nope.json() as { error: { code: string } }).error.code, 'VXTAP_ERR_LAB_HOST');
    const bad = await fetch(`${url}api/ping`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'not json' });
    assert.equal(bad.status, 400);
    // A cross-site form post (not JSON), and a page reached by another name (DNS rebinding), are refused.
    assert.equal((await fetch(`${url}api/ping`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"from":"h1","to":"h2"}' })).status, 415);
    const port = new URL(url).port;
    const rebound = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/api/topology', headers: { host: `evil.example:${port}` } }, (r) => { r.resume(); resolve(r.statusCode ?? 0); }).on('error', reject);
    });
    assert.equal(rebound, 403);
    assert.equal((await fetch(`${url}nowhere`)).status, 404);

    // h1's daemon is not there: shown as down with the client's reason, the poll itself succeeds.
    const r = await fetch(`${url}api/live`);
    assert.equal(r.status, 200);
    const lv = await r.json() as { hosts: { name: string; up: boolean; error: string | null }[] };
    const h1 = lv.hosts.find((h) => h.name === 'h1')!;
    assert.equal(h1.up, false);
    assert.match(h1.error ?? '', /no vxtap daemon at .*h1\.sock/);
  } finally {
    await web.close();
  }
});
