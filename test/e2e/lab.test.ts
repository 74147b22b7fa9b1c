/**
 * `vxtap lab`, as a newcomer runs it: the real binary, a real etcd, real
 * namespaces. The lab here runs with its own prefix (vxt-lab-), its own
 * state dirs (in a temp dir) and its own underlay (192.168.93.0/24), so it
 * can run beside the other test files and beside a user's own lab.
 *
 * After every `lab down`: no namespace with the prefix, no process whose
 * command line names the state dir (etcd's --data-dir and the daemons'
 * --subnet-file are in it), no state dir.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needCommand, needNamespaces, nsPrefix, waitFor } from '../helpers/netns';
import { assertNothingLeft as assertLabGone, labCmd as runLab, labNamespaces, type LabResult } from '../helpers/lab';
import { needEtcd } from '../helpers/etcd';
import { VXTAP } from '../helpers/daemon';
import { tcpTransfer } from '../helpers/tcp';
import { macFromIp } from '../../src/control/peers';

const PREFIX = nsPrefix('vxt-lab-');
const UNDERLAY = '192.168.93.0/24';
const base = mkdtempSync(join(tmpdir(), 'vxtap-lab-test-'));
test.after(() => rmSync(base, { recursive: true, force: true }));
let nState = 0;

/** `vxtap lab CMD --prefix vxt-lab- --state-dir DIR ...args`. */
function labCmd(stateDir: string, cmd: string, args: string[] = [], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<LabResult> {
  return runLab(PREFIX, stateDir, cmd, args, env, timeoutMs);
}

function namespaces(): string[] {
  return labNamespaces(PREFIX);
}

function assertNothingLeft(stateDir: string): void {
  assertLabGone(PREFIX, stateDir);
}

/** A fresh state dir, and a guard that removes whatever a failed test leaves (lab down, then the namespaces). */
function setup(t: TestContext): { stateDir: string; guard: Lab } | null {
  if (!needNamespaces(t) || !needEtcd(t)) return null;
  const stateDir = join(base, `state${++nState}`);
  const guard = new Lab(PREFIX); // removes stale vxt-lab-* namespaces now, and at process exit
  t.after(async () => {
    await labCmd(stateDir, 'down');
    await guard.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  });
  return { stateDir, guard };
}

interface StatusJson {
  healthy: boolean;
  phase: string;
  etcd: { running: boolean };
  hosts: {
    name: string; kind: string; ns: string; publicIp: string; subnet: string; vtepMac: string; containerIp: string; running: boolean;
    pid: number | null; restarted?: boolean; lease: { publicIp: string; vtepMac: string } | null;
  }[];
}

/** Polls `lab status --json` until `ok` holds (10 s). */
async function waitForStatus(stateDir: string, ok: (s: StatusJson) => boolean): Promise<StatusJson> {
  const until = Date.now() + 10_000;
  for (;;) {
    const r = await labCmd(stateDir, 'status', ['--json']);
    const s = JSON.parse(r.stdout) as StatusJson;
    if (ok(s)) return s;
    if (Date.now() > until) assert.fail(`lab status never got there: ${r.stdout}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

test('lab up, ping, status, trace, down: every pair answers and nothing is left', { timeout: 180_000 }, async (t) => {
  const s = setup(t);
  if (s === null) return;
  const { stateDir } = s;
  const t0 = Date.now();
  const up = await labCmd(stateDir, 'up', ['--underlay', UNDERLAY, '--pcap']);
  assert.equal(up.status, 0, up.stdout + up.stderr);
  t.diagnostic(`lab up: ${Date.now() - t0} ms`);
  for (const step of ['underlay', 'etcd', 'network config', 'vxtap', 'learning', 'containers', 'Try next', 'vxtap lab ping', `tshark -r ${join(stateDir, 'h1.pcapng')}`]) {
    assert.ok(up.stdout.includes(step), `up tells "${step}":\n${up.stdout}`);
  }

  const ping = await labCmd(stateDir, 'ping');
  assert.equal(ping.status, 0, ping.stdout + ping.stderr);
  assert.match(ping.stdout, /all 6 pairs reachable/);
  assert.doesNotMatch(ping.stdout, /FAIL/);

  // --pcap: h1's capture holds the pings, on the TAP and as VXLAN on the underlay, as tshark reads them.
  if (needCommand(t, 'tshark', 'tshark')) {
    const cap = spawnSync('tshark', ['-r', join(stateDir, 'h1.pcapng'), '-n', '-Y', 'icmp.type == 8', '-T', 'fields', '-e', 'vxlan.vni', '-e', 'ip.dst'], { encoding: 'utf8' });
    assert.equal(cap.status, 0, cap.stderr);
    const rows = cap.stdout.trim().split('\n').filter(Boolean);
    assert.ok(rows.some((r) => r.startsWith('\t')), `an echo request on the TAP (no VXLAN): ${cap.stdout}`);
    assert.ok(rows.some((r) => r.startsWith('1\t')), `an echo request in VXLAN VNI 1: ${cap.stdout}`);
  }

  const st = await labCmd(stateDir, 'status', ['--json']);
  assert.equal(st.status, 0, st.stdout + st.stderr);
  const status = JSON.parse(st.stdout) as StatusJson;
  assert.equal(status.healthy, true);
  assert.equal(status.phase, 'up');
  assert.equal(status.etcd.running, true);
  assert.deepEqual(status.hosts.map((h) => h.name), ['h1', 'h2', 'h3']);
  assert.equal(new Set(status.hosts.map((h) => h.subnet)).size, 3, 'three distinct subnets');
  status.hosts.forEach((h, i) => {
    assert.equal(h.kind, 'vxtap');
    assert.equal(h.publicIp, `192.168.93.${i + 1}`);
    assert.match(h.subnet, /^10\.44\.\d+\.0\/24$/);
    assert.equal(h.containerIp, h.subnet.replace(/\.0\/24$/, '.2'));
    assert.equal(h.running, true);
    assert.equal(h.vtepMac, macFromIp(h.publicIp));
    assert.deepEqual([h.lease?.publicIp, h.lease?.vtepMac], [h.publicIp, h.vtepMac], 'the lease in etcd is the host\'s');
  });
  const table = await labCmd(stateDir, 'status');
  assert.match(table.stdout, /HOST\s+RUNS\s+PUBLIC IP\s+SUBNET\s+VTEP MAC/);

  // A daemon restarted by hand (same command, new pid) is up, not DOWN.
  const h2 = status.hosts[1]!;
  const argv = readFileSync(`/proc/${h2.pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  process.kill(h2.pid!, 'SIGTERM');
  await waitFor('h2\'s daemon gone', () => !existsSync(`/proc/${h2.pid}`), 10_000, 50);
  const byHand = spawn('ip', ['netns', 'exec', h2.ns, ...argv], { stdio: 'ignore', detached: true });
  byHand.unref();
  const restarted = await waitForStatus(stateDir, (s) => s.hosts[1]!.running && s.hosts[1]!.pid === byHand.pid);
  assert.equal(restarted.hosts[1]!.restarted, true);
  assert.match((await labCmd(stateDir, 'status')).stdout, new RegExp(`up, pid ${byHand.pid} \\(restarted by hand\\)`));

  // The pings went through h1's vxtap: its trace shows them, as text, filtered.
  const trace = await labCmd(stateDir, 'trace', ['h1', '--no-follow', '--filter', 'icmp', '-n', '1000']);
  assert.equal(trace.status, 0, trace.stderr);
  assert.match(trace.stdout, /ICMPv4 \{echo-request/);
  assert.match(trace.stdout, /=>\s+encap VNI 1/);
  assert.match(trace.stdout, /=>\s+decap from 192\.168\.93\./);
  assert.doesNotMatch(trace.stdout, /= ARP \{/, 'the filter kept ARP out');
  // -n counts after the filter: the last ICMP frame, even when later frames are not ICMP.
  const last = await labCmd(stateDir, 'trace', ['h1', '--no-follow', '--filter', 'icmp', '-n', '1']);
  assert.equal((last.stdout.match(/ICMPv4 \{/g) ?? []).length, 1, last.stdout);
  const bad = await labCmd(stateDir, 'trace', ['h9', '--no-follow']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /no host "h9".*h1, h2, h3/);

  // A second up refuses, and says how to remove the first.
  const again = await labCmd(stateDir, 'up', ['--underlay', UNDERLAY]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already here.*vxtap lab down/);

  const down = await labCmd(stateDir, 'down');
  assert.equal(down.status, 0, down.stdout + down.stderr);
  assertNothingLeft(stateDir);
  const twice = await labCmd(stateDir, 'down');
  assert.equal(twice.status, 0, twice.stderr);
  assert.match(twice.stdout, /nothing to remove/);
  const none = await labCmd(stateDir, 'ping');
  assert.equal(none.status, 1);
  assert.match(none.stderr, /no lab is up.*vxtap lab up/);
});

test('lab down after a lab up killed half-way leaves nothing', { timeout: 180_000 }, async (t) => {
  const s = setup(t);
  if (s === null) return;
  // Two places to cut: as soon as the first namespace exists, and once the daemons are starting.
  const cuts: [string, (stateDir: string) => boolean][] = [
    ['first namespace', () => namespaces().length > 0],
    ['daemons starting', (dir) => {
      try {
        const st = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as { hosts: { pid: number | null }[] };
        return st.hosts.some((h) => h.pid !== null);
      } catch { return false; }
    }],
  ];
  for (const [name, ready] of cuts) {
    const stateDir = `${s.stateDir}-${name.replace(/ /g, '-')}`;
    t.after(async () => { await labCmd(stateDir, 'down'); rmSync(stateDir, { recursive: true, force: true }); });
    const child = spawn(process.execPath, [VXTAP, 'lab', 'up', '--prefix', PREFIX, '--state-dir', stateDir, '--underlay', UNDERLAY], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await waitFor(`lab up reaches "${name}"`, () => ready(stateDir), 30_000, 10);
    child.kill('SIGKILL');
    await exited;
    assert.ok(namespaces().length > 0, `${name}: the killed up left namespaces (so down has work to do)`);
    const down = await labCmd(stateDir, 'down');
    assert.equal(down.status, 0, down.stdout + down.stderr);
    assertNothingLeft(stateDir);
  }
});

test('with --kernel-peer, the kernel vxlan host\'s container is in the ping matrix, every pair answers, and TCP crosses both ways at the kernel host\'s default offloads', { timeout: 240_000 }, async (t) => {
  const s = setup(t);
  if (s === null) return;
  const { stateDir, guard } = s;
  const up = await labCmd(stateDir, 'up', ['--hosts', '2', '--kernel-peer', '--underlay', UNDERLAY]);
  assert.equal(up.status, 0, up.stdout + up.stderr);
  assert.match(up.stdout, /kernel peer: k1 runs the kernel's vxlan device/);

  const ping = await labCmd(stateDir, 'ping', ['--json']);
  assert.equal(ping.status, 0, ping.stdout + ping.stderr);
  const res = JSON.parse(ping.stdout) as { ok: boolean; results: { from: string; to: string; ok: boolean }[] };
  assert.equal(res.ok, true);
  assert.equal(res.results.length, 6);
  for (const [from, to] of [['h1', 'k1'], ['k1', 'h1'], ['h2', 'k1'], ['k1', 'h2']]) {
    assert.ok(res.results.some((r) => r.from === from && r.to === to && r.ok), `${from} → ${to} answered`);
  }
  const status = JSON.parse((await labCmd(stateDir, 'status', ['--json'])).stdout) as StatusJson;
  const k1 = status.hosts.find((h) => h.name === 'k1')!;
  assert.equal(k1.kind, 'kernel');
  assert.equal(k1.publicIp, '192.168.93.101');
  assert.equal(k1.lease?.vtepMac, k1.vtepMac, 'its flannel lease carries the vxlan device\'s MAC');
  // The kernel host's underlay keeps its default offloads: its inner checksums arrive partial, and
  // h1's vxtap finishes them (NEEDS_CSUM) before h1 routes the segments on to its container.
  const h1 = status.hosts.find((h) => h.name === 'h1')!;
  await tcpTransfer(guard, 'h1-c', 'k1-c', k1.containerIp, 5);
  await tcpTransfer(guard, 'k1-c', 'h1-c', h1.containerIp, 5);
  const trace = await labCmd(stateDir, 'trace', ['k1', '--no-follow']);
  assert.equal(trace.status, 1);
  assert.match(trace.stderr, /kernel's vxlan device.*tcpdump/);

  const down = await labCmd(stateDir, 'down');
  assert.equal(down.status, 0, down.stdout + down.stderr);
  assertNothingLeft(stateDir);
});

test('a missing prerequisite is named with the command that fixes it, and nothing is made', { timeout: 60_000 }, async (t) => {
  if (!needNamespaces(t)) return; // root: the checks after the root check are reached
  const stateDir = join(base, `state${++nState}`);
  const noEtcd = await labCmd(stateDir, 'up', ['--underlay', UNDERLAY], { VXTAP_ETCD: '/nonexistent/etcd' });
  assert.equal(noEtcd.status, 1);
  assert.match(noEtcd.stderr, /no etcd binary.*apt-get install etcd-server.*VXTAP_ERR_PREREQ/);
  assert.deepEqual(namespaces(), []);
  assert.equal(existsSync(stateDir), false);

  if (existsSync('/usr/bin/setpriv')) {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, VXTAP, 'lab', 'up', '--prefix', PREFIX, '--state-dir', stateDir],
      { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /needs root.*sudo/);
  }

  const bad = await labCmd(stateDir, 'up', ['--hosts', '0']);
  assert.equal(bad.status, 2, 'a bad flag exits 2');
  assert.match(bad.stderr, /--hosts/);
});
