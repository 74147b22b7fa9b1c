/**
 * The trace hook's cost when tracing is off: Pipeline.encapBatch /
 * decapBatch as the untraced Switch runs them (no trace edge; the pipeline
 * still records each decision, switch/decisions.ts) against the same loops
 * with no hook at all (no-hook.ts: no records), on the same Pipeline object
 * and the same batch (scene.ts). The goal: within 5%.
 *
 * Two measurements, one op = one 128-frame batch:
 *   - the benny suite: each pair in 4 rounds, in ABBA order (no hook first
 *     in odd rounds, trace off first in even ones), for the chart and
 *     the JSON like every suite. Its cases run a second or so each, one after
 *     the other, so a neighbour's load on a shared machine lands on one side
 *     of a pair and not the other: the rounds scatter by several percent;
 *   - the paired measurement (paired.ts), which answers the goal: the two
 *     loops take turns every 100 batches, 400 pairs, and the figure is the
 *     median ratio with its 95% interval. Saved as hook-paired.json.
 * The encap side puts back the two ARP requests the responder rewrote before
 * each batch (as every encap case must); that is under 1% of a batch, and
 * the benny suite measures it as its baseline.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { add } from 'benny';
import { SendList } from '../../src/io/port';
import { QUICK, RESULTS_DIR, main, runSuite, sink, type Case } from './common';
import { NoHookLoops, checkSameAsPipeline } from './no-hook';
import { paired, type Paired } from './paired';
import { BATCH, checkDecap, checkEncap, decapMix, encapMix, host, peers, restoreArp } from './scene';

export const SUITE = 'hook';
export const ROUNDS = [1, 2, 3, 4] as const;
export const CASES = {
  encapRestore: 'encap baseline: put the 2 ARP requests back',
  encapNoHook: (r: number) => `encap, no hook (round ${r})`,
  encapOff: (r: number) => `encap, trace off: decisions recorded (round ${r})`,
  decapNoHook: (r: number) => `decap, no hook (round ${r})`,
  decapOff: (r: number) => `decap, trace off: decisions recorded (round ${r})`,
} as const;
export const PAIRED_FILE = path.join(RESULTS_DIR, 'hook-paired.json');
export interface PairedResults { encap: Paired; decap: Paired }

const ps = peers(8);

interface Ops {
  restore: () => void;
  encapNoHook: () => void;
  encapOff: () => void;
  decapNoHook: () => void;
  decapOff: () => void;
}

/** The five operations, over one encap host and one decap host (checked before anything is timed). */
function ops(): Ops {
  checkSameAsPipeline(ps, true);
  const eh = host(ps, true);
  const m = encapMix(ps);
  checkEncap(eh, m);
  const eLoops = new NoHookLoops(eh.pipeline);
  const toNet = new SendList(BATCH);
  const toTap = new SendList(BATCH);
  const dh = host(ps, true);
  const b = decapMix(ps);
  checkDecap(dh, b);
  const dLoops = new NoHookLoops(dh.pipeline);
  const decapped = new SendList(BATCH);
  return {
    restore: () => {
      restoreArp(m);
      toNet.count = 0;
      toTap.count = 0;
      sink.n += toNet.count;
    },
    encapNoHook: () => {
      restoreArp(m);
      toNet.count = 0;
      toTap.count = 0;
      eLoops.encapBatch(m.batch, toNet, toTap);
      sink.n += toNet.count;
    },
    encapOff: () => {
      restoreArp(m);
      toNet.count = 0;
      toTap.count = 0;
      eh.pipeline.encapBatch(m.batch, toNet, toTap);
      sink.n += toNet.count;
    },
    decapNoHook: () => {
      decapped.count = 0;
      dLoops.decapBatch(b, decapped);
      sink.n += decapped.count;
    },
    decapOff: () => {
      decapped.count = 0;
      dh.pipeline.decapBatch(b, decapped);
      sink.n += decapped.count;
    },
  };
}

export function cases(o: Ops): Case[] {
  const all: Case[] = [add(CASES.encapRestore, o.restore)];
  const sides = [
    [(r: number) => add(CASES.encapNoHook(r), o.encapNoHook), (r: number) => add(CASES.encapOff(r), o.encapOff)],
    [(r: number) => add(CASES.decapNoHook(r), o.decapNoHook), (r: number) => add(CASES.decapOff(r), o.decapOff)],
  ] as const;
  for (const [noHook, off] of sides) {
    for (const r of ROUNDS) all.push(...(r % 2 === 1 ? [noHook(r), off(r)] : [off(r), noHook(r)]));
  }
  return all;
}

export async function run(): Promise<unknown> {
  const o = ops();
  const summary = await runSuite(SUITE, 'hook: trace off (decisions recorded) vs no trace hook, one 128-frame batch per op', 'pair', cases(o));
  const opts = { pairs: QUICK ? 100 : 400, perTurn: 100, warmup: 2000 };
  console.log(`\nPaired: trace off (decisions recorded) vs no hook, ${opts.pairs} pairs of ${opts.perTurn} batches each way...`);
  const results: PairedResults = {
    encap: paired(o.encapNoHook, o.encapOff, opts),
    decap: paired(o.decapNoHook, o.decapOff, opts),
  };
  for (const [what, p] of Object.entries(results)) {
    console.log(`  ${what}: trace off / no hook = ${p.median.toFixed(4)} (±${p.ci.toFixed(4)}; quartiles ${p.q1.toFixed(3)}, ${p.q3.toFixed(3)})`);
  }
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.writeFileSync(PAIRED_FILE, JSON.stringify({ date: new Date().toISOString(), ...results }, null, 2) + '\n');
  console.log(`Saved to: ${PAIRED_FILE}`);
  return summary;
}

if (require.main === module) main(run);
