/**
 * `vxtap lab exercise [list|NAME]`, registered by commands.ts:
 *
 *   vxtap lab exercise                 the exercises for the running lab's mode
 *   vxtap lab exercise list [--json]   the same
 *   vxtap lab exercise NAME [--auto] [--timeout S] [--json]
 *
 * With --json the teaching text goes to stderr and the result (or the list)
 * to stdout as one JSON document.
 */
import { Command, Option } from 'commander';
import { intIn } from '../../cli/arg-parsers';
import { modeOf, scopeFlags, checkPrefix } from '../plan';
import { checkPrereqs } from '../prereq';
import { makeSay } from '../say';
import { makeShell } from '../shell';
import { checkStateDir, requireState } from '../state';
import { exercisesFor, renderList } from './registry';
import { checkApplies, finish, runExercise } from './run';

export const DEFAULT_TIMEOUT_S = 300;

export function registerExerciseCommand(lab: Command, withScope: (c: Command) => Command): void {
  withScope(lab.command('exercise').argument('[name]', 'an exercise, or `list` (the default)')
    .description('guided exercises: set a situation up in the lab, say what to run and what to expect, check it was seen, put the lab back')
    .option('--auto', 'run the learner\'s commands too (demos, tests)')
    .addOption(new Option('--timeout <s>', 'seconds to wait for the evidence').default(DEFAULT_TIMEOUT_S).argParser(intIn('--timeout', 1, 86_400)))
    .option('--json', 'the result (or the list) as JSON on stdout; the text goes to stderr')
    .option('-v, --verbose', 'print every command the exercise runs'))
    .action(async (name: string | undefined, f: { prefix: string; stateDir: string; auto?: boolean; timeout: number; json?: boolean; verbose?: boolean }) => {
      const scope = { prefix: checkPrefix(f.prefix), stateDir: checkStateDir(f.stateDir) };
      const flags = scopeFlags(scope);
      const st = requireState(scope, flags);
      const mode = modeOf(st.options);
      if (name === undefined || name === 'list') {
        process.stdout.write(f.json === true
          ? JSON.stringify(exercisesFor(mode).map((e) => ({ name: e.name, modes: e.modes, teaches: e.teaches })), null, 2) + '\n'
          : renderList(mode, flags));
        return;
      }
      const ex = checkApplies(st, name);
      checkPrereqs({ ping: true });
      const say = makeSay(f.json === true ? process.stderr : process.stdout);
      const sh = makeShell(f.verbose === true ? (l) => say.dim(l) : null);
      const stop = new AbortController();
      const onSignal = (): void => { process.stderr.write('\nstopping: putting the lab back...\n'); stop.abort(); };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const r = await runExercise(st, ex, { timeoutS: f.timeout, auto: f.auto === true, signal: stop.signal }, sh, say);
        if (f.json === true) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        finish(r, flags);
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
