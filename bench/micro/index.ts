/**
 * `npm run bench:micro` (after `npm run build`): runs the microbenchmark
 * suites, each in a Node process of its own, then writes the chart and the
 * summary from what they saved.
 *
 *   node dist/bench/micro/index.js [SUITE...] [--quick] [--report]
 *
 *   SUITE     wire, fdb, arp, encap, decap, hook, flood, udp (default: all, in that order; udp needs root)
 *   --quick   a fifth of the time per case: to try the harness, not for figures
 *             (its results go to bench/results/micro/quick/)
 *   --report  run nothing; redo the chart and summary from the saved results
 *             (with --quick: from the quick ones)
 *
 * Writes to bench/results/micro/ (gitignored): per suite benny's JSON, CSV
 * and chart.js HTML; run.json (which suites, how long, the load average
 * before and after, CPU steal); then chart.svg (every case) and summary.md
 * (the goals' figures, suites 1-3 at a glance, and every case as a table).
 * The goals' table is printed at the end.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chartSvg } from './chart';
import { QUICK, RESULTS_DIR } from './common';
import { load, machine, type SavedSuite } from './results';
import { allCasesMarkdown, compactMarkdown, summaryMarkdown } from './summary';

export const SUITES = ['wire', 'fdb', 'arp', 'encap', 'decap', 'hook', 'flood', 'udp'] as const;

/**
 * What the summary says of the run: how busy the machine was, as far as it
 * can tell: the 1-minute load average before and after, and the share of
 * CPU time the hypervisor gave to other guests during the run (steal).
 */
interface RunInfo {
  suites: string[];
  quick: boolean;
  loadBefore: number;
  loadAfter: number;
  /** Percent of all CPU time, or null where /proc/stat has no steal. */
  stealPercent: number | null;
  seconds: number;
}

/** The first line of /proc/stat: [steal, total] in ticks, or null off Linux. */
function cpuTicks(): [number, number] | null {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
    if (f.length < 8 || f.some((x) => !Number.isFinite(x))) return null;
    return [f[7]!, f.reduce((a, b) => a + b, 0)];
  } catch {
    return null;
  }
}

const RUN_FILE = path.join(RESULTS_DIR, 'run.json');

function runSuites(names: readonly string[]): void {
  const started = Date.now();
  const loadBefore = os.loadavg()[0]!;
  const ticks = cpuTicks();
  for (const name of names) {
    const t0 = Date.now();
    const r = spawnSync(process.execPath, [path.join(__dirname, `${name}.bench.js`), ...(QUICK ? ['--quick'] : [])], { stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`bench:micro: suite ${name} failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
      process.exit(1);
    }
    console.log(`(${name}: ${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
  const after = cpuTicks();
  const stealPercent = ticks && after && after[1] > ticks[1] ? Math.round(((after[0] - ticks[0]) / (after[1] - ticks[1])) * 1000) / 10 : null;
  const info: RunInfo = {
    suites: [...names], quick: QUICK, loadBefore, loadAfter: os.loadavg()[0]!, stealPercent, seconds: Math.round((Date.now() - started) / 1000),
  };
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(RUN_FILE, JSON.stringify(info, null, 2) + '\n');
}

function runInfo(): RunInfo | null {
  return fs.existsSync(RUN_FILE) ? (JSON.parse(fs.readFileSync(RUN_FILE, 'utf8')) as RunInfo) : null;
}

function report(): void {
  const suites = new Map<string, SavedSuite>();
  for (const id of SUITES) {
    const s = load(id);
    if (s) suites.set(id, s);
  }
  if (suites.size === 0) {
    console.error(`bench:micro: no results in ${RESULTS_DIR}; run the suites first`);
    process.exit(1);
  }
  const date = [...suites.values()].map((s) => s.date).sort().at(-1)!.slice(0, 16).replace('T', ' ') + ' UTC';
  const m = machine();
  const run = runInfo();
  const notes = run === null ? '' : `Last run: ${run.suites.join(', ')} in ${run.seconds} s${run.quick ? ' (--quick: rough figures)' : ''}; 1-minute load average ${run.loadBefore.toFixed(2)} before, ${run.loadAfter.toFixed(2)} after (${m.cores} cores)${run.stealPercent === null || run.stealPercent === undefined ? '' : `; CPU steal ${run.stealPercent}% of the time`}.`;
  const summary = summaryMarkdown(suites, m, date) + (notes ? `\n\n${notes}` : '');
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const svg = path.join(RESULTS_DIR, 'chart.svg');
  fs.writeFileSync(svg, chartSvg([...suites.values()], m, date));
  const md = path.join(RESULTS_DIR, 'summary.md');
  fs.writeFileSync(md, `${summary}\n\n### Suites 1-3 at a glance\n\n${compactMarkdown(suites)}\n### Every case\n\n${allCasesMarkdown(suites)}`);
  console.log(`\n${summary}\n`);
  console.log(`Chart: ${path.relative(process.cwd(), svg)}\nSummary and every case: ${path.relative(process.cwd(), md)}`);
}

function main(): void {
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a.startsWith('--') && a !== '--quick' && a !== '--report');
  const names = args.filter((a) => !a.startsWith('--'));
  const bad = names.filter((n) => !(SUITES as readonly string[]).includes(n));
  if (unknown.length > 0 || bad.length > 0) {
    console.error(`usage: node dist/bench/micro/index.js [${SUITES.join('|')}...] [--quick] [--report]`);
    process.exit(2);
  }
  if (!args.includes('--report')) runSuites(names.length > 0 ? names : SUITES);
  report();
}

main();
