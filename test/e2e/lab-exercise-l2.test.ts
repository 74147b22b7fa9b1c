/**
 * `vxtap lab exercise` in a real L2 lab (`lab up --mode l2`), with its own
 * prefix (vxt-exel2-) and state dir. learning, flood, wrong-vni and
 * unknown-vtep run with --auto; the test reads the daemons' FDB and counters
 * itself to check what each exercise claims, and checks that the lab is back
 * afterwards: the same namespaces, links, bridge ports, routes and VTEP keys,
 * and `lab ping` passes. A routed-only exercise fails here with a clear error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needNamespaces, nsPrefix } from '../helpers/netns';
import { needEtcd } from '../helpers/etcd';
import { assertNothingLeft, labCmd } from '../helpers/lab';
import { daemonJson, exerciseAuto, picture, type StatsJson } from '../helpers/lab-exercise';

const PREFIX = nsPrefix('vxt-exel2-');
const UNDERLAY = '192.168.98.0/24';
const base = mkdtempSync(join(tmpdir(), 'vxtap-lab-exercise-l2-test-'));
test.after(() => rmSync(base, { recursive: true, force: true }));

interface FdbRow { mac: string; vtep: string; port: number; kind: string }

test('L2 lab: learning, flood, wrong-vni and unknown-vtep with --auto: the FDB and counters really change, and the lab is as before', { timeout: 420_000 }, async (t) => {
  if (!needNamespaces(t) || !needEtcd(t)) return;
  const stateDir = join(base, 'state');
  const guard = new Lab(PREFIX);
  t.after(async () => {
    await labCmd(PREFIX, stateDir, 'down');
    await guard.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  });
  const lab = (cmd: string, args: string[] = []) => labCmd(PREFIX, stateDir, cmd, args);
  const up = await lab('up', ['--mode', 'l2', '--hosts', '2', '--underlay', UNDERLAY]);
  assert.equal(up.status, 0, up.stdout + up.stderr);
  const h1 = `${PREFIX}h1`;
  const h2 = `${PREFIX}h2`;
  const sock = (h: string): string => join(stateDir, `${h}.sock`);
  const hostNs = [h1, h2];
  const ping0 = await lab('ping');
  assert.equal(ping0.status, 0, ping0.stdout + ping0.stderr);

  const list = await lab('exercise', ['list', '--json']);
  assert.equal(list.status, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as { name: string }[]).map((e) => e.name), ['mtu', 'wrong-vni', 'unknown-vtep', 'learning', 'flood']);

  const before = picture(PREFIX, hostNs);
  const backAsBefore = async (name: string): Promise<void> => {
    assert.deepEqual(picture(PREFIX, hostNs), before, `after ${name}: namespaces, links, bridge ports, routes and etcd as before`);
    const p = await lab('ping');
    assert.equal(p.status, 0, `after ${name}, lab ping passes:\n${p.stdout}${p.stderr}`);
  };
  const stats = (ns: string, h: string): StatsJson => daemonJson<StatsJson>(ns, 'stats', sock(h));

  // learning: each VTEP learned the far station's MAC behind the other VTEP.
  const l0 = { h1: stats(h1, 'h1').counters.l2.learned, h2: stats(h2, 'h2').counters.l2.learned };
  const learn = await exerciseAuto(PREFIX, stateDir, 'learning');
  const on = learn.json.evidence?.data['learnedOn'] as Record<string, { mac: string; vtep: string }>;
  assert.equal(on['h1']?.vtep, '192.168.98.2');
  assert.equal(on['h2']?.vtep, '192.168.98.1');
  const fdb1 = daemonJson<FdbRow[]>(h1, 'fdb', sock('h1'));
  const fdb2 = daemonJson<FdbRow[]>(h2, 'fdb', sock('h2'));
  assert.ok(fdb1.some((r) => r.mac === on['h1']!.mac && r.kind === 'learned' && r.vtep === '192.168.98.2'), `h1 learned the station behind h2: ${JSON.stringify(fdb1)}`);
  assert.ok(fdb2.some((r) => r.mac === on['h2']!.mac && r.kind === 'learned' && r.vtep === '192.168.98.1'), `h2 learned the station behind h1: ${JSON.stringify(fdb2)}`);
  assert.ok(stats(h1, 'h1').counters.l2.learned > l0.h1 && stats(h2, 'h2').counters.l2.learned > l0.h2, 'l2.learned moved on both');
  assert.match(learn.r.stderr, /seen:\n\s+h1: 02:ee:[0-9a-f:]+ learned behind 192\.168\.98\.2:4789/);
  assert.match(learn.r.stderr, /KIND\s+AGE\n(.*\n)*.*learned/, 'the learner\'s `vxtap fdb` shows a learned entry');
  await backAsBefore('learning');

  // flood: one copy per VTEP on the flood list (one other host here).
  const f0 = stats(h1, 'h1').counters.l2;
  const fl = await exerciseAuto(PREFIX, stateDir, 'flood');
  const f1 = stats(h1, 'h1').counters.l2;
  assert.ok(f1.floodedFrames > f0.floodedFrames, `floodedFrames moved: ${f0.floodedFrames} → ${f1.floodedFrames}`);
  assert.ok(f1.floodCopies >= f0.floodCopies + (f1.floodedFrames - f0.floodedFrames), 'at least one copy per flooded frame');
  assert.match(fl.r.stderr, /flooded to 1 VTEPs \(head-end replication\)/, 'the trace line is shown');
  await backAsBefore('flood');

  for (const [name, drop] of [['wrong-vni', 'vxlan-unknown-vni'], ['unknown-vtep', 'unknown-vtep']] as const) {
    const d0 = stats(h1, 'h1').counters.drops[drop] ?? 0;
    const { r } = await exerciseAuto(PREFIX, stateDir, name);
    assert.match(r.stderr, new RegExp(`=> +drop: ${drop}`), `${name} shows h1's trace line`);
    const d1 = stats(h1, 'h1').counters.drops[drop] ?? 0;
    assert.ok(d1 > d0, `${drop} on h1 moved: ${d0} → ${d1}`);
    await backAsBefore(name);
  }

  const wrong = await lab('exercise', ['arp-miss']);
  assert.equal(wrong.status, 1, wrong.stdout + wrong.stderr);
  assert.match(wrong.stderr, /exercise arp-miss needs a lab in routed mode, and this lab is in l2 mode.*\[VXTAP_ERR_LAB_MODE\]/);

  const down = await lab('down');
  assert.equal(down.status, 0, down.stdout + down.stderr);
  assertNothingLeft(PREFIX, stateDir);
});
