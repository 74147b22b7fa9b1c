/**
 * Axis ticks for the lab report's charts. Every axis range comes from the
 * data: a linear axis starts at 0 and ends at the first tick at or above the
 * largest value; a log axis runs between the 1-2-5 values around the smallest
 * and the largest value, and the chart says so on the axis. Tick steps are
 * chosen so that their labels cannot touch (at least GAP px apart).
 */
import { textWidth } from './svg';

/** Minimum free space between two tick labels, px. */
export const GAP = 10;

/** 1, 2, 2.5, 5 × 10^k, smallest first: the tick steps people read easily. */
function niceSteps(): number[] {
  const out: number[] = [];
  for (let k = -3; k <= 7; k++) for (const m of [1, 2, 2.5, 5]) out.push(m * 10 ** k);
  return out;
}

function fits(ticks: number[], px: (v: number) => number, fmt: (v: number) => string, size: number): boolean {
  for (let i = 1; i < ticks.length; i++) {
    const a = ticks[i - 1]!, b = ticks[i]!;
    const room = px(b) - px(a);
    if (room < (textWidth(fmt(a), size) + textWidth(fmt(b), size)) / 2 + GAP) return false;
  }
  return true;
}

export interface LinearAxis { hi: number; ticks: number[] }

/** A linear axis from 0 over `width` px that holds `max`, with as many ticks as fit (at most 10). */
export function linearAxis(max: number, width: number, fmt: (v: number) => string, size: number): LinearAxis {
  const top = max > 0 ? max : 1;
  for (const step of niceSteps()) {
    const count = Math.ceil(top / step - 1e-9);
    if (count > 10) continue;
    const hi = count * step;
    const ticks = Array.from({ length: count + 1 }, (_, i) => i * step);
    if (fits(ticks, (v) => (v / hi) * width, fmt, size)) return { hi, ticks };
  }
  return { hi: top, ticks: [0, top] };
}

/**
 * Ticks for a second scale over an axis that is already laid out (the % of
 * kernel vxlan over the Gbit/s axis): from 0 up to `hi` in that scale's
 * units, at most 10, none past the end.
 */
export function ticksWithin(hi: number, width: number, fmt: (v: number) => string, size: number): number[] {
  for (const step of niceSteps()) {
    const count = Math.floor(hi / step + 1e-9);
    if (count > 10 || count < 1) continue;
    const ticks = Array.from({ length: count + 1 }, (_, i) => i * step);
    if (fits(ticks, (v) => (v / hi) * width, fmt, size)) return ticks;
  }
  return [0];
}

export interface LogAxis { lo: number; hi: number; ticks: number[] }

const ladder = (lo: number, hi: number, mantissas: number[]): number[] => {
  const out: number[] = [];
  for (let k = Math.floor(Math.log10(lo)) - 1; k <= Math.ceil(Math.log10(hi)) + 1; k++) {
    for (const m of mantissas) {
      const v = m * 10 ** k;
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(v);
    }
  }
  return out;
};

/**
 * A log axis from the 1-2-5 value at or below `min` to the one at or above
 * `max`. Ticks at 1, 2 and 5 of each decade and the two ends when their
 * labels fit, else at 1 and 3, else at 1, else at fewer decades.
 */
export function logAxis(min: number, max: number, width: number, fmt: (v: number) => string, size: number): LogAxis {
  const all = ladder(min / 10, max * 10, [1, 2, 5]);
  const lo = [...all].reverse().find((v) => v <= min * (1 + 1e-9)) ?? min;
  const hi = all.find((v) => v >= max * (1 - 1e-9)) ?? max;
  const px = (v: number): number => ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * width;
  for (const mantissas of [[1, 2, 5], [1, 3], [1]]) {
    const ticks = [...new Set([lo, ...ladder(lo, hi, mantissas), hi])].sort((a, b) => a - b);
    if (fits(ticks, px, fmt, size)) return { lo, hi, ticks };
  }
  // The decades alone, then every second, third, … decade, until the labels fit.
  const decades = ladder(lo, hi, [1]);
  for (let every = 1; every < decades.length; every++) {
    const ticks = decades.filter((_, i) => i % every === 0);
    if (fits(ticks, px, fmt, size)) return { lo, hi, ticks };
  }
  return { lo, hi, ticks: [lo] };
}
