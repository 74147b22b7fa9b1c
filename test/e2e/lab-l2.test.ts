/**
 * `vxtap lab up --mode l2`, as a newcomer runs it: the real binary, a real
 * etcd, real namespaces. Two vxtap hosts and the kernel's vxlan device in its
 * classic L2 form (`--kernel-peer`), a bridge br0 in each, every container on
 * one /24. Its own prefix (vxt-labl2-) and state dirs, so it runs beside
 * test/e2e/lab.test.ts and beside a user's lab.
 *
 * What it proves: every container reaches every other one across the three
 * kinds of pair (vxtap-vxtap, vxtap-kernel, kernel-vxtap); status reads the
 * VTEP keys and every flood list; the daemons learn MACs behind VTEPs and
 * flood, answer a repeated ARP request from their table, and `lab trace`
 * shows those lines; `lab down` leaves nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needNamespaces, nsPrefix, run } from '../helpers/netns';
import { needEtcd } from '../helpers/etcd';
import { VXTAP } from '../helpers/daemon';
import { assertNothingLeft, labCmd } from '../helpers/lab';
import { macFromIp } from '../../src/control/peers';

const PREFIX = nsPrefix('vxt-labl2-');
const UNDERLAY = '192.168.94.0/24';
const NETWORK = '10.45.0.0/24';
const base = mkdtempSync(join(tmpdir(), 'vxtap-lab-l2-test-'));
test.after(() => rmSync(base, { recursive: true, force: true }));

interface StatusJson {
  healthy: boolean;
  mode: string;
  problems: string[];
  hosts: {
    name: string; kind: string; publicIp: string; vtepMac: string; containerIp: string; containerMac: string; running: boolean;
    floodList: string[] | null; vtepKey: { key: string; publicIp: string; vtepMac: string; expiresInSeconds: number | null } | null;
  }[];
}

interface FdbRow { mac: string; vtep: string; port: number; kind: string }

test('lab up --mode l2 with a kernel peer: bridges, one subnet, every pair answers, learning, flooding and ARP suppression in the trace, nothing left after down', { timeout: 240_000 }, async (t) => {
  if (!needNamespaces(t) || !needEtcd(t)) return;
  const stateDir = join(base, 'state');
  const guard = new Lab(PREFIX); // removes stale namespaces with the prefix now, and at process exit
  t.after(async () => {
    await labCmd(PREFIX, stateDir, 'down');
    await guard.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  });
  const lab = (cmd: string, args: string[] = []) => labCmd(PREFIX, stateDir, cmd, args);

  const up = await lab('up', ['--mode', 'l2', '--hosts', '2', '--kernel-peer', '--underlay', UNDERLAY]);
  assert.equal(up.status, 0, up.stdout + up.stderr);
  for (const told of ['(L2 mode)', 'segment config', 'bridges: a Linux bridge br0', 'vxtap run --mode l2 --bridge br0', 'classic L2 form',
    'bridge fdb append 00:00:00:00:00:00 dev vx0 dst 192.168.94.1', 'flood lists', 'head-end replication', 'split horizon',
    `every container on ${NETWORK}`, 'ARP suppressed from the table', 'Try next']) {
    assert.ok(up.stdout.includes(told), `up tells "${told}":\n${up.stdout}`);
  }

  // The kernel host's device is the classic L2 one: learning, a port of br0, a flood entry per other host.
  const k1ns = `${PREFIX}k1`;
  const vx = JSON.parse(run('ip', ['-n', k1ns, '-d', '-j', 'link', 'show', 'vx0'])) as { master?: string; linkinfo: { info_data: { id: number; learning?: boolean; port: number } } }[];
  assert.equal(vx[0]!.master, 'br0');
  assert.equal(vx[0]!.linkinfo.info_data.learning, true);
  const kFlood = (JSON.parse(run('bridge', ['-n', k1ns, '-j', 'fdb', 'show', 'dev', 'vx0'])) as { mac: string; dst?: string }[])
    .filter((e) => e.mac === '00:00:00:00:00:00').map((e) => e.dst).sort();
  assert.deepEqual(kFlood, ['192.168.94.1', '192.168.94.2']);

  const ping = await lab('ping', ['--json']);
  assert.equal(ping.status, 0, ping.stdout + ping.stderr);
  const res = JSON.parse(ping.stdout) as { ok: boolean; results: { from: string; to: string; toIp: string; ok: boolean }[] };
  assert.equal(res.ok, true);
  assert.equal(res.results.length, 6, 'h1, h2 and k1: six ordered pairs');
  for (const r of res.results) assert.ok(r.ok, `${r.from} → ${r.to} answered`);
  assert.deepEqual([...new Set(res.results.map((r) => r.toIp))].sort(), ['10.45.0.1', '10.45.0.101', '10.45.0.2'], 'every container on the one subnet');

  const st = await lab('status', ['--json']);
  assert.equal(st.status, 0, st.stdout + st.stderr);
  const status = JSON.parse(st.stdout) as StatusJson;
  assert.equal(status.healthy, true, status.problems.join('; '));
  assert.equal(status.mode, 'l2');
  assert.deepEqual(status.hosts.map((h) => [h.name, h.kind]), [['h1', 'vxtap'], ['h2', 'vxtap'], ['k1', 'kernel']]);
  for (const h of status.hosts) {
    const others = status.hosts.filter((o) => o !== h).map((o) => o.publicIp).sort();
    assert.deepEqual([...(h.floodList ?? [])].sort(), others, `${h.name}'s flood list holds every other host`);
    assert.equal(h.vtepKey?.key, `/coreos.com/network/l2/1/vteps/${h.publicIp}`);
    assert.equal(h.vtepKey?.vtepMac, h.vtepMac, `${h.name}'s VTEP key carries its VTEP MAC`);
    assert.equal(h.containerMac, macFromIp(h.containerIp));
    if (h.kind === 'vxtap') assert.equal(h.vtepMac, macFromIp(h.publicIp));
  }
  const table = await lab('status');
  assert.match(table.stdout, /L2 segment: every container on 10\.45\.0\.0\/24/);
  assert.match(table.stdout, /HOST\s+RUNS\s+PUBLIC IP\s+VTEP MAC\s+CONTAINER\s+CONTAINER MAC\s+DAEMON\s+FLOOD LIST\s+VTEP KEY IN ETCD/);

  // h1's VXLAN FDB, through the daemon's control socket in the state dir: the flood list, and the
  // containers' MACs learned behind their hosts' VTEPs (the kernel host's too).
  const fdb = JSON.parse(run(process.execPath, [VXTAP, 'fdb', '--json', '--control-socket', join(stateDir, 'h1.sock')])) as FdbRow[];
  assert.deepEqual(fdb.filter((r) => r.kind === 'flood').map((r) => r.vtep).sort(), ['192.168.94.101', '192.168.94.2']);
  const h2c = status.hosts.find((h) => h.name === 'h2')!.containerMac;
  const k1c = status.hosts.find((h) => h.name === 'k1')!.containerMac;
  assert.ok(fdb.some((r) => r.kind === 'learned' && r.mac === h2c && r.vtep === '192.168.94.2'), `h2's container learned behind 192.168.94.2: ${JSON.stringify(fdb)}`);
  assert.ok(fdb.some((r) => r.kind === 'learned' && r.mac === k1c && r.vtep === '192.168.94.101'), `k1's container learned behind 192.168.94.101: ${JSON.stringify(fdb)}`);

  // h1's container forgets its neighbours and asks again: h1's vxtap has seen h2's container's
  // address in an ARP reply, so it answers the request itself.
  run('ip', ['-n', `${PREFIX}h1-c`, 'neigh', 'flush', 'all']);
  run('ip', ['netns', 'exec', `${PREFIX}h1-c`, 'ping', '-c', '1', '-W', '2', '10.45.0.2']);

  const trace = await lab('trace', ['h1', '--no-follow', '-n', '100000']);
  assert.equal(trace.status, 0, trace.stderr);
  assert.match(trace.stdout, /learned 02:76:0a:2d:00:02 behind 192\.168\.94\.2/);
  assert.match(trace.stdout, /learned 02:76:0a:2d:00:65 behind 192\.168\.94\.101/);
  assert.match(trace.stdout, /flooded to 2 VTEPs \(head-end replication\)/);
  assert.match(trace.stdout, /split horizon: not flooded back to the network/);
  assert.match(trace.stdout, /ARP suppressed from the table \(10\.45\.0\.2 is-at 02:76:0a:2d:00:02, behind 192\.168\.94\.2\)/);
  assert.match(trace.stderr, /L2 mode: the lookup lines to look for/, 'the legend explains them');
  const arpOnly = await lab('trace', ['h1', '--no-follow', '-n', '100000', '--filter', 'arp']);
  assert.equal(arpOnly.status, 0, arpOnly.stderr);
  assert.match(arpOnly.stdout, /ARP suppressed from the table/);
  assert.doesNotMatch(arpOnly.stdout, /ICMPv4/, 'the filter kept ICMP out');

  const down = await lab('down');
  assert.equal(down.status, 0, down.stdout + down.stderr);
  assertNothingLeft(PREFIX, stateDir);
});

test('lab up --mode l2 refuses a --network smaller than a /24, before anything is made', { timeout: 60_000 }, async (t) => {
  if (!needNamespaces(t)) return;
  const stateDir = join(base, 'state-bad');
  const r = await labCmd(PREFIX, stateDir, 'up', ['--mode', 'l2', '--network', '10.45.0.0/25', '--underlay', UNDERLAY]);
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /--network: with --mode l2 every container is on this one subnet.*\/24 or larger/);
  assertNothingLeft(PREFIX, stateDir);
});
