/**
 * `vxtap lab exercise` in a real routed lab (real binary, etcd, namespaces),
 * with its own prefix (vxt-exer-) and state dir. Each routed exercise runs
 * with --auto, and the test checks for itself what the exercise claims: the
 * evidence is printed, the counter really moved (read here through the
 * control API), and the lab is back afterwards: the same namespaces, links,
 * routes and etcd keys and values as before, and `lab ping` passes. Then:
 * an exercise of the other mode and an exercise with no lab fail with a
 * clear error, and a Ctrl-C during the wait still puts the lab back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needNamespaces, nsPrefix, run } from '../helpers/netns';
import { needEtcd } from '../helpers/etcd';
import { VXTAP } from '../helpers/daemon';
import { assertNothingLeft, labCmd } from '../helpers/lab';
import { daemonJson, exerciseAuto, picture, type StatsJson } from '../helpers/lab-exercise';

const PREFIX = nsPrefix('vxt-exer-');
const UNDERLAY = '192.168.97.0/24';
const base = mkdtempSync(join(tmpdir(), 'vxtap-lab-exercise-test-'));
test.after(() => rmSync(base, { recursive: true, force: true }));

test('routed lab: every routed exercise with --auto shows its evidence, moves the real counter, and leaves the lab as it was', { timeout: 420_000 }, async (t) => {
  if (!needNamespaces(t) || !needEtcd(t)) return;
  const stateDir = join(base, 'state');
  const guard = new Lab(PREFIX); // removes stale namespaces with the prefix now, and at process exit
  t.after(async () => {
    await labCmd(PREFIX, stateDir, 'down');
    await guard.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  });
  const lab = (cmd: string, args: string[] = []) => labCmd(PREFIX, stateDir, cmd, args);
  const up = await lab('up', ['--hosts', '2', '--underlay', UNDERLAY]);
  assert.equal(up.status, 0, up.stdout + up.stderr);
  const h1 = `${PREFIX}h1`;
  const hostNs = [h1, `${PREFIX}h2`];
  const ping0 = await lab('ping');
  assert.equal(ping0.status, 0, ping0.stdout + ping0.stderr);

  const list = await lab('exercise');
  assert.equal(list.status, 0, list.stderr);
  for (const name of ['mtu', 'arp-miss', 'wrong-vni', 'unknown-vtep', 'delete-lease']) assert.match(list.stdout, new RegExp(`^  ${name} +\\S`, 'm'), `listed: ${name}`);
  assert.doesNotMatch(list.stdout, /learning|flood /, 'no L2 exercise in a routed lab');

  const drops = (): Record<string, number> => daemonJson<StatsJson>(h1, 'stats').counters.drops;
  const before = picture(PREFIX, hostNs);
  const backAsBefore = async (name: string): Promise<void> => {
    assert.deepEqual(picture(PREFIX, hostNs), before, `after ${name}: namespaces, links, routes and etcd as before`);
    const p = await lab('ping');
    assert.equal(p.status, 0, `after ${name}, lab ping passes:\n${p.stdout}${p.stderr}`);
  };

  for (const [name, drop] of [['arp-miss', 'arp-miss'], ['wrong-vni', 'vxlan-unknown-vni'], ['unknown-vtep', 'unknown-vtep']] as const) {
    const d0 = drops()[drop] ?? 0;
    const { r, json } = await exerciseAuto(PREFIX, stateDir, name);
    assert.equal(json.ok, true, r.stderr);
    assert.equal(json.outcome, 'seen');
    assert.match(r.stderr, new RegExp(`seen:\\n\\s+h1: ${drop} drops \\d+ → \\d+`), `${name} prints its evidence:\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`=> +drop: ${drop}`), `${name} shows h1's trace line`);
    assert.match(r.stderr, /== 4\. why/);
    const d1 = drops()[drop] ?? 0;
    assert.ok(d1 > d0, `${drop} on h1 really moved: ${d0} → ${d1}`);
    assert.equal(json.evidence?.data['after'] !== undefined && (json.evidence.data['after'] as number) <= d1, true, 'the exercise reported no more than there is');
    await backAsBefore(name);
  }
  assert.equal(run('ip', ['-n', h1, 'neigh', 'show', '10.44.255.0']).trim(), '', 'arp-miss: the FAILED neighbour entry went with the route');

  const mtu = await exerciseAuto(PREFIX, stateDir, 'mtu');
  assert.match(mtu.r.stderr, /ping: local error: message too long, mtu=1450/, 'the ping one byte too big is refused in the container');
  assert.match(mtu.r.stderr, /1422\(1450\) bytes of data\.\n\s+1430 bytes from/, 'the ping of exactly the MTU is answered');
  assert.deepEqual({ ...mtu.json.evidence?.data }, { host: 'h1', containerMtu: 1450, tapMtu: 1450, underlayMtu: 1500, frameLen: 1464, wireLen: 1514 });
  await backAsBefore('mtu');

  const h2log = join(stateDir, 'h2.log');
  const del = await exerciseAuto(PREFIX, stateDir, 'delete-lease');
  const subnet = del.json.evidence?.data['subnet'] as string;
  assert.match(del.r.stderr, /etcdctl del \/coreos\.com\/network\/subnets\/10\.44\.\d+\.0-24\n\s+1\n/, 'etcdctl deleted one key');
  assert.match(del.r.stderr, new RegExp(`h2's log:\\n.*lease of ${subnet.replace(/\./g, '\\.')} deleted; taking it again\\n.*took the lease of`), del.r.stderr);
  assert.match(del.r.stderr, /h1's log:\n.*removing subnet: .*\n.*adding subnet: /);
  assert.match(run('cat', [h2log]), /took the lease of .* again/, 'the owner\'s own log says it');
  await backAsBefore('delete-lease');

  // The other mode, and a lab that is not there: a clear error, exit 1, nothing changed.
  const wrong = await lab('exercise', ['learning']);
  assert.equal(wrong.status, 1, wrong.stdout + wrong.stderr);
  assert.match(wrong.stderr, /exercise learning needs a lab in l2 mode, and this lab is in routed mode.*\[VXTAP_ERR_LAB_MODE\]/);
  const unknown = await lab('exercise', ['no-such']);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /no exercise "no-such"; in this routed lab: mtu, arp-miss/);
  const none = await labCmd(`${PREFIX}none-`, join(base, 'no-lab'), 'exercise', ['mtu']);
  assert.equal(none.status, 1, none.stdout + none.stderr);
  assert.match(none.stderr, /no lab is up here .*start one with `npx vxtap lab up.*\[VXTAP_ERR_LAB_NONE\]/);
  assert.deepEqual(picture(PREFIX, hostNs), before);

  // Ctrl-C while the exercise waits for the learner: the route it added is gone again.
  const child = spawn(process.execPath, [VXTAP, 'lab', 'exercise', 'arp-miss', '--prefix', PREFIX, '--state-dir', stateDir], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += String(c); });
  child.stderr.on('data', (c: Buffer) => { out += String(c); });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the exercise did not start waiting:\n${out}`)), 60_000);
    const look = setInterval(() => { if (out.includes('3. waiting for the evidence')) { clearInterval(look); clearTimeout(timer); resolve(); } }, 50);
  });
  assert.match(run('ip', ['-n', h1, 'route', 'show', 'dev', 'vxtap.1']), /10\.44\.255\.0\/24 via 10\.44\.255\.0/, 'the situation is set up while it waits');
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 1, out);
  assert.match(out, /stopped before the evidence was seen[\s\S]*done: removed the route to 10\.44\.255\.0\/24 from h1[\s\S]*exercise arp-miss stopped; the lab is back as it was/);
  await backAsBefore('a stopped arp-miss');

  const down = await lab('down');
  assert.equal(down.status, 0, down.stdout + down.stderr);
  assertNothingLeft(PREFIX, stateDir);
});
