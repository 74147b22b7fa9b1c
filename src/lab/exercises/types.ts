/**
 * What an exercise is: a name, the lab modes it applies to, one line of what
 * it teaches, and `setUp`, which makes the situation in a running lab and
 * returns a Session: what the learner runs, what to expect, how to tell that
 * it happened (polled), why it happened, and how the lab goes back.
 *
 * Everything an exercise adds is undone through `ctx.undo` as it is added,
 * so the runner (run.ts) can put the lab back even when setUp itself fails
 * half-way, the learner never acts, or Ctrl-C comes.
 */
import type { LabMode } from '../plan';
import type { Say } from '../say';
import type { Shell } from '../shell';
import type { HostState, LabState } from '../state';

export interface ExerciseContext {
  readonly st: LabState;
  readonly sh: Shell;
  readonly say: Say;
  /** ' --prefix P --state-dir D' (empty for the defaults): appended to every `npx vxtap lab` hint. */
  readonly flags: string;
  /** Registers a step that puts the lab back; run last-in first-out, each even when an earlier one fails. */
  undo(what: string, fn: () => void | Promise<void>): void;
}

/** One command for the learner: shown as is, run by `--auto`. */
export interface LearnerStep {
  /** The command line as the learner types it (with sudo where the lab needs root). */
  readonly show: string;
  /** What it is for, one line. */
  readonly why: string;
  /**
   * What `--auto` runs in the learner's place (argv, no shell); null: a
   * step only to watch (a trace to follow, a table to read), which `--auto`
   * leaves to the evidence check.
   */
  readonly argv: readonly string[] | null;
}

/** What the exercise saw: one line per fact, and the numbers behind them (for --json and tests). */
export interface Evidence {
  readonly lines: readonly string[];
  readonly data: Readonly<Record<string, unknown>>;
}

export interface Session {
  readonly steps: readonly LearnerStep[];
  /** What the learner should see, a line each. */
  readonly expect: readonly string[];
  /** Polled until it returns evidence (or the timeout): counters through the control API, the trace file, the logs. */
  check(): Promise<Evidence | null>;
  /** Why it happened: two or three sentences, with RFC 7348 / flannel where it matters. */
  explain(e: Evidence): readonly string[];
  /** Optional check after the undo steps ran: is the lab really back? Throws with what is not. */
  verifyRestored?(): Promise<void>;
}

export interface Exercise {
  readonly name: string;
  readonly modes: readonly LabMode[];
  /** One line: what it teaches. */
  readonly teaches: string;
  setUp(ctx: ExerciseContext): Promise<Session>;
}

/** The vxtap hosts of the lab (not the kernel peer), in order. */
export function vxtapHosts(st: LabState): HostState[] {
  return st.hosts.filter((h) => h.kind === 'vxtap');
}
