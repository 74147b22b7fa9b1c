/**
 * A paired measurement for a ratio close to 1, which benny's one-case-after-
 * another cannot give on a shared machine: there, a neighbour's load that
 * comes and goes over seconds lands on one case and not the other, and moves
 * the ratio by more than the few percent sought.
 *
 * Here the two functions take turns every `perTurn` calls (a few ms), in
 * ABBA order, for `pairs` pairs; each pair gives one ratio (time of b / time
 * of a), and the figure is the median of those ratios. A drift slower than a
 * pair falls on both sides. The median's 95% interval is the box-plot notch
 * (McGill, Tukey and Larsen 1978): ±1.58 · IQR / √pairs.
 */
import { performance } from 'node:perf_hooks';

export interface Paired {
  /** Median of the per-pair ratios b / a. */
  median: number;
  /** Half-width of the median's 95% interval. */
  ci: number;
  q1: number;
  q3: number;
  pairs: number;
  perTurn: number;
  /** Mean seconds per call of each side. */
  meanA: number;
  meanB: number;
}

function turn(fn: () => void, n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  return (performance.now() - t0) / 1e3 / n;
}

export function paired(a: () => void, b: () => void, opts: { pairs: number; perTurn: number; warmup: number }): Paired {
  for (let i = 0; i < opts.warmup; i++) {
    a();
    b();
  }
  const ratios: number[] = [];
  let sumA = 0;
  let sumB = 0;
  for (let p = 0; p < opts.pairs; p++) {
    let ta: number;
    let tb: number;
    if (p % 2 === 0) {
      ta = turn(a, opts.perTurn);
      tb = turn(b, opts.perTurn);
    } else {
      tb = turn(b, opts.perTurn);
      ta = turn(a, opts.perTurn);
    }
    ratios.push(tb / ta);
    sumA += ta;
    sumB += tb;
  }
  ratios.sort((x, y) => x - y);
  const at = (q: number): number => ratios[Math.min(ratios.length - 1, Math.floor(q * ratios.length))]!;
  const q1 = at(0.25);
  const q3 = at(0.75);
  return {
    median: at(0.5), ci: (1.58 * (q3 - q1)) / Math.sqrt(ratios.length), q1, q3,
    pairs: opts.pairs, perTurn: opts.perTurn, meanA: sumA / opts.pairs, meanB: sumB / opts.pairs,
  };
}
