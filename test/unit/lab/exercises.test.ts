/**
 * `vxtap lab exercise` without namespaces: the registry and its filtering by
 * the lab's mode, the checks before an exercise starts (no such exercise,
 * wrong mode, a lab that is not up), and the runner with a fake exercise and
 * a fake shell: the undo steps run last-in first-out on success, on timeout,
 * when set-up fails half-way and on a stop, and `--auto` runs the learner's
 * commands. test/e2e/lab-exercise*.test.ts run the real exercises in real labs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { VxtapError } from '../../../src/errors';
import { EXERCISES, exerciseByName, exercisesFor, renderList } from '../../../src/lab/exercises/registry';
import { checkApplies, finish, runExercise } from '../../../src/lab/exercises/run';
import type { Evidence, Exercise } from '../../../src/lab/exercises/types';
import { spareL2Ip } from '../../../src/lab/exercises/common';
import type { LabMode } from '../../../src/lab/plan';
import { makeSay } from '../../../src/lab/say';
import type { Shell } from '../../../src/lab/shell';
import type { LabState } from '../../../src/lab/state';

function labState(mode: LabMode, phase: LabState['phase'] = 'up'): LabState {
  return {
    version: 1, phase, prefix: 'vxt-u-', stateDir: '/tmp/vxt-u', createdAt: '2026-11-30T00:00:00Z',
    options: { hosts: 2, kernelPeer: false, network: mode === 'l2' ? '10.45.0.0/24' : '10.44.0.0/16', vni: 1, port: 4789, underlay: '192.168.93.0/24', trace: true, mode },
    underlayNs: 'vxt-u-underlay', tap: 'vxtap.1', vxlanDev: 'flannel.1',
    etcd: { ns: 'vxt-u-etcd', ip: '192.168.93.250', endpoint: 'http://192.168.93.250:2379', pid: null, dataDir: '/tmp/vxt-u/etcd-data', log: '/tmp/vxt-u/etcd.log' },
    hosts: [1, 2].map((i) => ({
      name: `h${i}`, kind: 'vxtap' as const, ns: `vxt-u-h${i}`, containerNs: `vxt-u-h${i}-c`, ip: `192.168.93.${i}`,
      subnet: null, containerIp: `10.45.0.${i}`, vtepMac: null, pid: null, log: null, trace: null, subnetFile: null,
    })),
  };
}

function sink(): { out: Writable; text: () => string } {
  const chunks: string[] = [];
  const out = new Writable({ write(c: Buffer | string, _e, cb) { chunks.push(String(c)); cb(); } });
  return { out, text: () => chunks.join('') };
}

/** A shell that runs nothing and records what it was asked to run. */
function fakeShell(ran: string[][]): Shell {
  const ok = { status: 0, stdout: 'fake output\n', stderr: '' };
  return {
    run: (cmd, args) => { ran.push([cmd, ...args]); return ''; },
    inNs: (ns, cmd, args) => { ran.push(['ip', 'netns', 'exec', ns, cmd, ...args]); return ''; },
    tryRun: (cmd, args) => { ran.push([cmd, ...args]); return ok; },
    show: () => {},
    runAsync: async (cmd, args) => { ran.push([cmd, ...args]); return ok; },
  };
}

const codeOf = (err: unknown): string => (err instanceof VxtapError ? err.code : String(err));

test('registry: unique names, every exercise in at least one mode; routed and L2 labs get the exercises the issue names', () => {
  const names = EXERCISES.map((e) => e.name);
  assert.equal(new Set(names).size, names.length, 'names are unique');
  for (const e of EXERCISES) {
    assert.ok(e.modes.length > 0, `${e.name} applies to some mode`);
    assert.ok(e.teaches.length > 0 && !e.teaches.includes('\n'), `${e.name} says what it teaches in one line`);
    assert.equal(exerciseByName(e.name), e);
  }
  assert.deepEqual(exercisesFor('routed').map((e) => e.name).sort(), ['arp-miss', 'delete-lease', 'mtu', 'unknown-vtep', 'wrong-vni']);
  assert.deepEqual(exercisesFor('l2').map((e) => e.name).sort(), ['flood', 'learning', 'mtu', 'unknown-vtep', 'wrong-vni']);
  assert.equal(exerciseByName('nope'), undefined);
});

test('list: one line per exercise of the lab\'s mode, with what it teaches, and the flags to run one', () => {
  const text = renderList('l2', ' --prefix p- --state-dir /tmp/p');
  assert.match(text, /exercises for this l2 lab \(run one: npx vxtap lab exercise NAME --prefix p- --state-dir \/tmp\/p/);
  for (const e of exercisesFor('l2')) assert.ok(text.split('\n').some((l) => l.includes(e.name) && l.includes(e.teaches)), `${e.name} has its line`);
  assert.ok(!text.includes('arp-miss') && !text.includes('delete-lease'), 'routed-only exercises are not listed for an L2 lab');
});

test('checkApplies: an exercise of the other mode, an unknown name, or a lab that did not finish `up` fails with a code and a clear message', () => {
  assert.equal(checkApplies(labState('routed'), 'arp-miss').name, 'arp-miss');
  assert.equal(checkApplies(labState('l2'), 'flood').name, 'flood');
  assert.throws(() => checkApplies(labState('routed'), 'learning'), (err: unknown) => {
    assert.equal(codeOf(err), 'VXTAP_ERR_LAB_MODE');
    assert.match((err as Error).message, /learning needs a lab in l2 mode, and this lab is in routed mode/);
    assert.match((err as Error).message, /lab up --mode l2/);
    return true;
  });
  assert.throws(() => checkApplies(labState('l2'), 'delete-lease'), /needs a lab in routed mode, and this lab is in l2 mode/);
  assert.throws(() => checkApplies(labState('routed'), 'wrong-vnii'), (err: unknown) => {
    assert.equal(codeOf(err), 'VXTAP_ERR_LAB_EXERCISE');
    assert.match((err as Error).message, /no exercise "wrong-vnii"; in this routed lab: mtu, arp-miss, wrong-vni/);
    return true;
  });
  assert.throws(() => checkApplies(labState('routed', 'building'), 'mtu'), (err: unknown) => codeOf(err) === 'VXTAP_ERR_LAB_NONE');
});

test('spareL2Ip: an address of the one subnet from .150 that no container and no ARP table has', () => {
  const st = labState('l2');
  const known = new Set<string>();
  for (let i = 150; i < 250; i++) if (i !== 177) known.add(`10.45.0.${i}`);
  assert.equal(spareL2Ip(st, known).ip, '10.45.0.177');
  known.add('10.45.0.177');
  assert.throws(() => spareL2Ip(st, known), /no spare address/);
});

/** A fake exercise: set-up registers two undo steps (or fails after the first), the evidence comes on the n-th check. */
function fakeExercise(log: string[], o: { evidenceOn: number; failSetUp?: boolean; failUndo?: boolean }): Exercise {
  return {
    name: 'fake', modes: ['routed'], teaches: 'nothing',
    async setUp(ctx) {
      ctx.undo('first', () => { log.push('undo first'); });
      if (o.failSetUp === true) throw new Error('set-up broke half-way');
      ctx.undo('second', () => { log.push('undo second'); if (o.failUndo === true) throw new Error('could not'); });
      let checks = 0;
      return {
        steps: [
          { show: 'watch something', why: 'to watch', argv: null },
          { show: 'sudo ip netns exec x ping y', why: 'to act', argv: ['ip', 'netns', 'exec', 'x', 'ping', 'y'] },
        ],
        expect: ['a thing'],
        async check(): Promise<Evidence | null> {
          checks++;
          log.push(`check ${checks}`);
          return checks >= o.evidenceOn ? { lines: ['the counter moved 0 → 1'], data: { n: 1 } } : null;
        },
        explain: () => ['because RFC 7348 says so'],
        async verifyRestored() { log.push('verify'); },
      };
    },
  };
}

test('runner: evidence seen → explained, undo steps last-in first-out, then verified; --auto runs only the steps with a command', async () => {
  const log: string[] = [];
  const ran: string[][] = [];
  const s = sink();
  const r = await runExercise(labState('routed'), fakeExercise(log, { evidenceOn: 2 }), { timeoutS: 5, auto: true, pollMs: 1 }, fakeShell(ran), makeSay(s.out));
  assert.equal(r.ok, true);
  assert.equal(r.outcome, 'seen');
  assert.deepEqual(r.evidence?.data, { n: 1 });
  assert.deepEqual(log, ['check 1', 'check 2', 'undo second', 'undo first', 'verify']);
  assert.deepEqual(ran, [['ip', 'netns', 'exec', 'x', 'ping', 'y']], 'the watch-only step is not run');
  const text = s.text();
  for (const want of ['exercise fake: nothing', 'sudo ip netns exec x ping y', 'fake output', 'seen:', 'the counter moved 0 → 1', 'because RFC 7348 says so', 'done: second', 'done: first', 'the lab is as before']) {
    assert.ok(text.includes(want), `prints "${want}":\n${text}`);
  }
  assert.doesNotThrow(() => finish(r, ''));
});

test('runner: no evidence before the timeout → the lab is put back all the same, and finish() fails naming the timeout', async () => {
  const log: string[] = [];
  const s = sink();
  const r = await runExercise(labState('routed'), fakeExercise(log, { evidenceOn: Infinity }), { timeoutS: 1, auto: false, pollMs: 50 }, fakeShell([]), makeSay(s.out));
  assert.equal(r.outcome, 'timeout');
  assert.equal(r.ok, false);
  assert.deepEqual(log.slice(-3), ['undo second', 'undo first', 'verify']);
  assert.match(s.text(), /not seen within 1 s/);
  assert.throws(() => finish(r, ''), /did not come within the timeout.*the lab is back as it was/);
});

test('runner: a stop (Ctrl-C) ends the wait, and the lab is still put back', async () => {
  const log: string[] = [];
  const stop = new AbortController();
  setTimeout(() => stop.abort(), 100);
  const r = await runExercise(labState('routed'), fakeExercise(log, { evidenceOn: Infinity }), { timeoutS: 60, auto: false, pollMs: 10, signal: stop.signal }, fakeShell([]), makeSay(sink().out));
  assert.equal(r.outcome, 'stopped');
  assert.deepEqual(log.slice(-3), ['undo second', 'undo first', 'verify']);
  assert.throws(() => finish(r, ''), (err: unknown) => codeOf(err) === 'VXTAP_ERR_LAB_EXERCISE' && /stopped; the lab is back as it was/.test((err as Error).message));
});

test('runner: a set-up that fails half-way undoes what it did and rethrows; a failing undo step is reported and the others still run', async () => {
  const log: string[] = [];
  await assert.rejects(runExercise(labState('routed'), fakeExercise(log, { evidenceOn: 1, failSetUp: true }), { timeoutS: 1, auto: false }, fakeShell([]), makeSay(sink().out)), /set-up broke half-way/);
  assert.deepEqual(log, ['undo first']);

  const log2: string[] = [];
  const r = await runExercise(labState('routed'), fakeExercise(log2, { evidenceOn: 1, failUndo: true }), { timeoutS: 1, auto: false }, fakeShell([]), makeSay(sink().out));
  assert.deepEqual(log2, ['check 1', 'undo second', 'undo first', 'verify']);
  assert.equal(r.ok, false);
  assert.deepEqual(r.restoreProblems, ['second: could not']);
  assert.throws(() => finish(r, ''), /putting the lab back failed: second: could not/);
});
