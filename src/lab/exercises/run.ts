/**
 * `vxtap lab exercise NAME`: the runner every exercise goes through.
 *
 *   1. the lab is up and in a mode the exercise applies to;
 *   2. the exercise sets its situation up (registering how to undo each part);
 *   3. what to run and what to expect are printed (with --auto, run here);
 *   4. the evidence is polled for (counters, trace, logs) until --timeout;
 *   5. what was seen, and why;
 *   6. the lab is put back: always, on success, failure, timeout or Ctrl-C.
 */
import { LabError } from '../errors';
import { modeOf, scopeFlags } from '../plan';
import { sleep } from '../procs';
import type { Say } from '../say';
import type { Shell } from '../shell';
import type { LabState } from '../state';
import { exerciseByName, exercisesFor } from './registry';
import type { Evidence, Exercise, ExerciseContext, Session } from './types';

export interface ExerciseOptions {
  /** Seconds to wait for the evidence. */
  timeoutS: number;
  /** Do the learner's steps here (demos, tests). */
  auto: boolean;
  /** How often the evidence is looked for, ms (default 1000). */
  pollMs?: number;
  /** Aborts the wait (Ctrl-C); the lab is still put back. */
  signal?: AbortSignal;
}

export interface ExerciseResult {
  exercise: string;
  mode: string;
  ok: boolean;
  outcome: 'seen' | 'timeout' | 'stopped';
  evidence: Evidence | null;
  /** The undo steps that failed (empty: the lab is back). */
  restoreProblems: string[];
}

/** Checks 1: the lab is up and the exercise applies to its mode. */
export function checkApplies(st: LabState, name: string): Exercise {
  const flags = scopeFlags({ prefix: st.prefix, stateDir: st.stateDir });
  const mode = modeOf(st.options);
  const ex = exerciseByName(name);
  if (ex === undefined) {
    throw new LabError('VXTAP_ERR_LAB_EXERCISE', `no exercise ${JSON.stringify(name)}; in this ${mode} lab: ${exercisesFor(mode).map((e) => e.name).join(', ')} (\`npx vxtap lab exercise list${flags}\`)`);
  }
  if (st.phase !== 'up') {
    throw new LabError('VXTAP_ERR_LAB_NONE', `the lab is not up (its \`lab up\` did not finish); \`npx vxtap lab down${flags}\` then \`npx vxtap lab up${flags}\``);
  }
  if (!ex.modes.includes(mode)) {
    const want = ex.modes.join(' or ');
    throw new LabError('VXTAP_ERR_LAB_MODE', `exercise ${ex.name} needs a lab in ${want} mode, and this lab is in ${mode} mode; start one with \`npx vxtap lab up --mode ${ex.modes[0]}\` (with another --prefix and --state-dir to keep this one), or pick one of: ${exercisesFor(mode).map((e) => e.name).join(', ')}`);
  }
  return ex;
}

/** Steps 2 to 6, for an exercise checkApplies() returned. */
export async function runExercise(st: LabState, ex: Exercise, o: ExerciseOptions, sh: Shell, say: Say): Promise<ExerciseResult> {
  const flags = scopeFlags({ prefix: st.prefix, stateDir: st.stateDir });
  const undos: { what: string; fn: () => void | Promise<void> }[] = [];
  const ctx: ExerciseContext = { st, sh, say, flags, undo: (what, fn) => { undos.push({ what, fn }); } };
  let evidence: Evidence | null = null;
  let outcome: ExerciseResult['outcome'] = 'timeout';
  let session: Session | null = null;
  const restoreProblems: string[] = [];
  say.head(`exercise ${ex.name}: ${ex.teaches}`);
  try {
    say.step('1. the situation');
    session = await ex.setUp(ctx);

    say.step(o.auto ? '2. what you would run (--auto: run here)' : '2. now you: run these in another terminal (a trace in a terminal of its own: it keeps running)');
    session.steps.forEach((s, i) => {
      say.line(`${String.fromCharCode(97 + i)}) ${s.why}`);
      say.line(`     ${s.show}`);
    });
    say.line('');
    say.line('what you should see:');
    for (const l of session.expect) say.line(`  - ${l}`);

    if (o.auto) {
      for (const s of session.steps) {
        if (s.argv === null || o.signal?.aborted === true) continue;
        say.dim(`$ ${s.show}`);
        const r = await sh.runAsync(s.argv[0]!, s.argv.slice(1), 60_000);
        const text = `${r.stdout}${r.stderr}`.trimEnd();
        if (text !== '') say.line(text.split('\n').map((l) => `  ${l}`).join('\n'));
        say.dim(`(exit status ${r.status})`);
      }
    }

    say.step(`3. waiting for the evidence (up to ${o.timeoutS} s; Ctrl-C stops and puts the lab back)`);
    const end = Date.now() + o.timeoutS * 1000;
    const stopped = (): boolean => o.signal?.aborted === true;
    for (;;) {
      if (stopped()) { outcome = 'stopped'; break; }
      try {
        evidence = await session.check();
      } catch (err) {
        // Ctrl-C on a terminal reaches the `vxtap stats` a check runs too: that is a stop, not a failure.
        if (stopped()) { outcome = 'stopped'; break; }
        throw err;
      }
      if (evidence !== null) { outcome = 'seen'; break; }
      if (Date.now() >= end) break;
      await sleep(o.pollMs ?? 1000); // a check may start `vxtap stats` processes: once a second is enough for a human
    }
    if (evidence !== null) {
      say.line(say.green('seen:'));
      for (const l of evidence.lines) say.line(`  ${l}`);
      say.step('4. why');
      for (const l of session.explain(evidence)) say.line(l);
    } else if (outcome === 'stopped') {
      say.line(say.red('stopped before the evidence was seen'));
    } else {
      say.line(say.red(`not seen within ${o.timeoutS} s`));
    }
  } finally {
    say.step(`${evidence !== null ? 5 : 4}. putting the lab back`);
    for (const u of undos.reverse()) {
      try {
        await u.fn();
        say.line(`done: ${u.what}`);
      } catch (err) {
        restoreProblems.push(`${u.what}: ${(err as Error).message}`);
        say.line(say.red(`failed: ${u.what}: ${(err as Error).message}`));
      }
    }
    if (session?.verifyRestored !== undefined) {
      try {
        await session.verifyRestored();
      } catch (err) {
        restoreProblems.push((err as Error).message);
        say.line(say.red(`not back: ${(err as Error).message}`));
      }
    }
    if (restoreProblems.length === 0) say.line(`the lab is as before (check: npx vxtap lab ping${flags})`);
  }
  return { exercise: ex.name, mode: modeOf(st.options), ok: outcome === 'seen' && restoreProblems.length === 0, outcome, evidence, restoreProblems };
}

/** The result as the command ends: a LabError unless the evidence was seen and the lab is back. */
export function finish(r: ExerciseResult, flags: string): void {
  if (r.outcome === 'stopped') throw new LabError('VXTAP_ERR_LAB_EXERCISE', `exercise ${r.exercise} stopped; ${r.restoreProblems.length === 0 ? 'the lab is back as it was' : `putting the lab back failed: ${r.restoreProblems.join('; ')}`}`);
  if (r.outcome === 'timeout') throw new LabError('VXTAP_ERR_LAB_EXERCISE', `exercise ${r.exercise}: the evidence did not come within the timeout (did the commands above run?); ${r.restoreProblems.length === 0 ? 'the lab is back as it was' : `putting the lab back failed: ${r.restoreProblems.join('; ')}`}; try again, or with --auto`);
  if (r.restoreProblems.length > 0) throw new LabError('VXTAP_ERR_LAB_EXERCISE', `exercise ${r.exercise} was seen, but putting the lab back failed: ${r.restoreProblems.join('; ')}; \`npx vxtap lab status${flags}\` tells what is off`);
}
