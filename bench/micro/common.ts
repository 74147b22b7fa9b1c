/**
 * What every microbenchmark suite shares: benny's options, where the results
 * go, and a sink that keeps the JIT from dropping the work being measured.
 *
 * A suite is one file, `<name>.bench.ts`, that runs its benny suite when it
 * is the main module; index.ts runs each in a process of its own, so that
 * the type feedback one suite leaves in V8 (a codec called with other
 * buffers, a stage made polymorphic) does not colour the next.
 *
 * Each suite saves, under bench/results/micro/ (quick/ under it with
 * --quick): `<name>.json` (benny's, with the samples), `<name>.csv`, and
 * `<name>.chart.html` (benny's chart.js page).
 */
import * as path from 'node:path';
import { add, complete, configure, cycle, save, suite } from 'benny';
import type { Summary } from 'benny/lib/internal/common-types';

export type { Summary };
/** One benny case, as add() makes it. */
export type Case = ReturnType<typeof add>;

/** dist/bench/micro -> the repository root. */
export const ROOT = path.resolve(__dirname, '../../..');

/** `--quick`: a fifth of the time per case, for trying the harness out; figures from it are rough. */
export const QUICK = process.argv.includes('--quick');

/** Where results go; a quick run's go to quick/ under it, so they never pass for a full run's. */
export const RESULTS_DIR = path.join(ROOT, 'bench/results/micro', QUICK ? 'quick' : '');

/**
 * How long each case runs. benny (Benchmark.js) takes samples of at least
 * ~50 ms each until both maxTime seconds have passed and minSamples are in.
 *   fast:  nanosecond operations (codecs, table lookups);
 *   batch: a 128-frame batch (microseconds), or a traced one (milliseconds);
 *   pair:  one round of the hook suite (its goal figure comes from paired.ts, not from these).
 */
const TIMING = {
  fast: { minSamples: 10, maxTime: 0.5 },
  batch: { minSamples: 20, maxTime: 1.5 },
  pair: { minSamples: 10, maxTime: 0.6 },
} as const;
export type Timing = keyof typeof TIMING;

function options(t: Timing): { minSamples: number; maxTime: number } {
  const o = TIMING[t];
  return QUICK ? { minSamples: 5, maxTime: o.maxTime / 5 } : { ...o };
}

/** Results are folded in here, so no measured call is dead code. */
export const sink = { n: 0, o: null as unknown };

interface CycleEvent {
  target: { name: string; hz: number; stats: { rme: number; sample: unknown[] } };
}

/**
 * benny's progress display redraws the screen (log-update); into a pipe or a
 * file that leaves escape codes, so there each finished case is one line.
 */
function progress(): Case {
  if (process.stdout.isTTY) return cycle();
  return async () => (s: { on(event: 'cycle', fn: (e: CycleEvent) => void): unknown }) => s.on('cycle', (e: CycleEvent) => {
    const t = e.target;
    const ops = t.hz.toLocaleString('en-US', { maximumFractionDigits: t.hz < 100 ? 2 : 0 });
    console.log(`  ${t.name}: ${ops} ops/s ±${t.stats.rme.toFixed(2)}% (${t.stats.sample.length} samples)`);
  });
}

/** Runs the cases as one benny suite and saves its results (JSON, CSV, chart.js HTML). */
export async function runSuite(name: string, title: string, timing: Timing, cases: Case[]): Promise<Summary> {
  const folder = RESULTS_DIR;
  return suite(
    title,
    configure({ cases: options(timing), minDisplayPrecision: 2 }),
    ...cases,
    progress(),
    complete(),
    save({ file: name, folder, format: 'json', details: true }),
    save({ file: name, folder, format: 'csv' }),
    save({ file: name, folder, format: 'chart.html' }),
  );
}

/** The end of a suite file: run it when it is the main module, and exit non-zero on any failure. */
export function main(run: () => Promise<unknown>): void {
  run().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
