/**
 * The lab report's chart: one SVG, one panel per measurement, one row per
 * path, and a column of exact figures to the right of each plot so that no
 * figure has to be read off an axis.
 *
 *   1. TCP, 1 stream and 2. TCP, 4 streams: each path's runs as
 *      lowest–median–highest on a linear Gbit/s axis, with a second axis
 *      above in % of kernel vxlan's median in the same run (the dashed line).
 *   3. UDP, 64-byte payloads: kpps, one run per path (the harness runs it once).
 *   4. Ping RTT: p50 and p99 per path, in µs on a log axis fitted to the data
 *      (p99 can be 100× p50), the time added over kernel vxlan written beside.
 *   5. CPU per GB: bars for the paths whose tunnel processes were measured;
 *      "not measured" for the others, never a zero bar.
 *   6. Round trips at three ping spacings and sockperf ping-pong (issue #14),
 *      in runs that have them: p50, p99 and p99.9 per path and spacing on a
 *      log axis, the time added over kernel vxlan at the same spacing beside.
 *
 * Labels sit in fixed places (a row each, a column each), so they cannot
 * collide by construction; `Svg.labels` keeps their boxes, and the unit test
 * checks that no two intersect.
 */
import { linearAxis, logAxis, ticksWithin } from './axis';
import { Svg, textWidth, type Box, type Label } from './svg';

export interface Row {
  path: string;
  tcp1Gbps: number;
  tcp4Gbps: number;
  /** Every run's figure; absent in runs made before the harness kept them. */
  tcp1Runs?: number[];
  tcp4Runs?: number[];
  udp64Pps: number;
  rttAvgUs: number;
  /** Absent in runs made before it was measured. */
  rttP50Us?: number;
  rttP99Us: number;
  cpuSecondsPerGB: number | null;
  /** Ping at each spacing, keyed by the spacing in ms ("10", "1", "0.2"); absent in runs before issue #14. */
  rtt?: Record<string, RttStats>;
  /** sockperf ping-pong (UDP, 64-byte messages), full round trips; null when sockperf was not installed. */
  sockperf?: SockperfStats | null;
}
export interface RttStats { intervalMs: number; count: number; avgUs: number; p50Us: number; p99Us: number; p999Us: number; lost: number }
export interface SockperfStats { msgBytes: number; observations: number; avgUs: number; p50Us: number; p99Us: number; p999Us: number }
/** The spacings run.sh pings at, slowest first, as the keys of Row.rtt. */
export const SPACINGS = ['10', '1', '0.2'] as const;

/** One row of the latency panel and table: a path at one spacing, or its sockperf run. */
export interface LatencyItem { path: string; what: string; count?: number; p50: number; p99: number; p999: number; ref?: { p50: number; p99: number; p999: number } }

/** Every (path, spacing) and (path, sockperf) with figures, with kernel vxlan's at the same spacing as the reference. */
export function latencyItems(rows: Row[]): LatencyItem[] {
  const k = rows.find((r) => r.path === 'kernel');
  const out: LatencyItem[] = [];
  for (const r of rows) {
    for (const sp of SPACINGS) {
      const v = r.rtt?.[sp];
      if (v === undefined || v.count === 0) continue;
      const ref = k?.rtt?.[sp];
      out.push({ path: r.path, what: `ping ${sp} ms`, count: v.count, p50: v.p50Us, p99: v.p99Us, p999: v.p999Us,
        ...(ref !== undefined && ref.count > 0 && r.path !== 'kernel' ? { ref: { p50: ref.p50Us, p99: ref.p99Us, p999: ref.p999Us } } : {}) });
    }
    const s = r.sockperf;
    if (s !== undefined && s !== null) {
      const ref = k?.sockperf;
      out.push({ path: r.path, what: 'sockperf pp', p50: s.p50Us, p99: s.p99Us, p999: s.p999Us,
        ...(ref !== undefined && ref !== null && r.path !== 'kernel' ? { ref: { p50: ref.p50Us, p99: ref.p99Us, p999: ref.p999Us } } : {}) });
    }
  }
  return out;
}
export interface Raw { meta: Record<string, string | number>; results: Row[] }

/**
 * The horizontal layout shared by every panel, px: path names right-aligned
 * at nameRight (the column as wide as the longest name), the plot, then the
 * figures from noteL on. The picture is as wide as its widest line.
 */
interface Geo { nameRight: number; plotL: number; plotR: number; plotW: number; noteL: number }
const PLOT_W = 456;
const MIN_W = 1000;
const ROW_H = 22;
const TICK = 11;

const COLOR = { range: '#9ecae1', cap: '#2166ac', median: '#08306b', ref: '#555', grid: '#e4e4e4', axis: '#888', muted: '#666', p50: '#2166ac', p99: '#b2182b', bar: '#4477aa' };

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const pctText = (v: number): string => `${v < 10 ? v.toFixed(1) : v.toFixed(0)}%`;
const group = (v: number): string => Math.round(v).toLocaleString('en-US');
const signed = (v: number): string => (v >= 0 ? `+${group(v)}` : `−${group(-v)}`);
const tickNum = (v: number): string => (Number.isInteger(v) ? group(v) : String(Number(v.toPrecision(3))));

interface PanelHead { title: string; notes: string[]; topAxis?: string }

/** Title, explanatory lines and (optionally) the title of an axis above the plot; returns the plot's top y and the title's box. */
function head(svg: Svg, g: Geo, y0: number, h: PanelHead): { top: number; titleBox: Box } {
  let y = y0 + 18;
  const titleBox = svg.text(16, y, h.title, { size: 14, weight: 'bold' });
  for (const note of h.notes) {
    y += 16;
    svg.text(16, y, note, { size: 11, fill: COLOR.muted });
  }
  if (h.topAxis !== undefined) {
    y += 20;
    svg.text(g.plotL + g.plotW / 2, y, h.topAxis, { size: TICK, anchor: 'middle' });
    y += 16; // the top tick labels' baseline
  }
  return { top: y + 10, titleBox };
}

function rowNames(svg: Svg, g: Geo, rows: Row[], top: number): void {
  rows.forEach((r, i) => {
    svg.text(g.nameRight, top + i * ROW_H + ROW_H / 2 + 4, r.path, { anchor: 'end', ...(r.path === 'kernel' ? { weight: 'bold' as const } : {}) });
  });
}

/** Vertical grid lines and tick labels below the plot; the axis title under them. Returns the panel's bottom y. */
function bottomAxis(svg: Svg, g: Geo, top: number, bottom: number, ticks: number[], px: (v: number) => number, fmt: (v: number) => string, title: string): number {
  for (const t of ticks) {
    const x = g.plotL + px(t);
    svg.line(x, top, x, bottom, COLOR.grid);
    svg.text(x, bottom + 14, fmt(t), { size: TICK, anchor: 'middle', fill: '#333' });
  }
  svg.line(g.plotL, bottom, g.plotR, bottom, COLOR.axis);
  svg.text(g.plotL + g.plotW / 2, bottom + 32, title, { size: TICK, anchor: 'middle' });
  return bottom + 44;
}

/** The second scale above the plot: % of the reference value, on the same positions. */
function percentAxis(svg: Svg, g: Geo, top: number, hi: number, ref: number): void {
  const hiPct = (100 * hi) / ref;
  for (const p of ticksWithin(hiPct, g.plotW, (v) => `${tickNum(v)}%`, TICK)) {
    const x = g.plotL + (p / hiPct) * g.plotW;
    svg.line(x, top - 4, x, top, COLOR.axis);
    svg.text(x, top - 10, `${tickNum(p)}%`, { size: TICK, anchor: 'middle', fill: '#333' });
  }
  svg.line(g.plotL, top, g.plotR, top, COLOR.axis);
}

interface Spread { min: number; med: number; max: number; n: number }

/** Panels 1 and 2 (and 3, with one run each): a lowest–median–highest mark per path. */
function rangePanel(svg: Svg, g: Geo, y0: number, rows: Row[], o: {
  title: string; what: string; unit: string; axisTitle: string; spread: (r: Row) => Spread; scale: number; digits: number;
}): number {
  const k = rows.find((r) => r.path === 'kernel');
  const spreads = rows.map(o.spread);
  const ref = k ? o.spread(k).med : undefined;
  const fmt = (v: number): string => (v * o.scale).toFixed(o.digits);
  const runsSaid = spreads.every((s) => s.n === 1) ? 'one run per path' : 'bar: lowest to highest run · thick tick: the median';
  const { top } = head(svg, g, y0, {
    title: o.title,
    notes: [
      `${o.what}; ${runsSaid}${ref !== undefined ? ' · dashed line: kernel vxlan\'s median = 100%' : ''}`,
    ],
    ...(ref !== undefined ? { topAxis: '% of kernel vxlan\'s median, measured in the same run' } : {}),
  });
  const bottom = top + rows.length * ROW_H + 4;
  const axis = linearAxis(Math.max(...spreads.map((s) => s.max)) * o.scale, g.plotW, tickNum, TICK);
  const hi = axis.hi / o.scale;
  const px = (v: number): number => (v / hi) * g.plotW;
  const end = bottomAxis(svg, g, top, bottom, axis.ticks, (t) => (t / axis.hi) * g.plotW, tickNum, o.axisTitle);
  if (ref !== undefined && ref > 0) {
    percentAxis(svg, g, top, hi, ref);
    svg.line(g.plotL + px(ref), top, g.plotL + px(ref), bottom, COLOR.ref, 'stroke-dasharray="5 3"');
  }
  rowNames(svg, g, rows, top);
  rows.forEach((r, i) => {
    const s = spreads[i]!;
    const cy = top + i * ROW_H + ROW_H / 2;
    svg.open('range', { path: r.path, min: fmt(s.min), median: fmt(s.med), max: fmt(s.max), runs: String(s.n) });
    if (s.n > 1) {
      svg.rect(g.plotL + px(s.min), cy - 4, px(s.max) - px(s.min), 8, COLOR.range);
      svg.line(g.plotL + px(s.min), cy - 6, g.plotL + px(s.min), cy + 6, COLOR.cap, 'stroke-width="1.5"');
      svg.line(g.plotL + px(s.max), cy - 6, g.plotL + px(s.max), cy + 6, COLOR.cap, 'stroke-width="1.5"');
      svg.rect(g.plotL + px(s.med) - 1.5, cy - 8, 3, 16, COLOR.median);
    } else {
      svg.raw(`<circle cx="${(g.plotL + px(s.med)).toFixed(1)}" cy="${cy}" r="4" fill="${COLOR.median}"/>`);
    }
    svg.close();
    const pct = ref !== undefined && ref > 0 ? ` · ${r.path === 'kernel' ? '100% (the reference)' : pctText((100 * s.med) / ref)}` : '';
    const runs = s.n > 1 ? ` · runs ${fmt(s.min)}–${fmt(s.max)}` : '';
    svg.text(g.noteL, cy + 4, `${fmt(s.med)} ${o.unit}${pct}${runs}`, { size: TICK });
  });
  return end;
}

/** How many pings the 10 ms figures come from: the run's own count, or 200 (the harness before issue #14). */
const pingsAt10 = (rows: Row[]): string => group(rows.find((r) => r.rtt?.['10'] !== undefined)?.rtt?.['10']?.count ?? 200);

/** Panel 4: ping p50 and p99 per path on a log axis, the time added over kernel vxlan beside them. */
function rttPanel(svg: Svg, g: Geo, y0: number, rows: Row[]): number {
  const k = rows.find((r) => r.path === 'kernel');
  const values = rows.flatMap((r) => [r.rttP50Us, r.rttP99Us]).filter((v): v is number => v !== undefined && v > 0);
  const fmt = (v: number): string => tickNum(v);
  const axis = logAxis(Math.min(...values), Math.max(...values), g.plotW, fmt, TICK);
  const px = (v: number): number => ((Math.log10(v) - Math.log10(axis.lo)) / (Math.log10(axis.hi) - Math.log10(axis.lo))) * g.plotW;
  const { top, titleBox: tb } = head(svg, g, y0, {
    title: 'Ping round-trip time, p50 and p99 per path',
    notes: [`${pingsAt10(rows)} pings, 10 ms apart; beside each figure in brackets: the time added over kernel vxlan${k ? '' : ' (no kernel vxlan in this run)'}${k ? ' · dashed lines: kernel vxlan\'s p50 and p99' : ''}`],
  });
  // The legend: the two marks, drawn as in the plot, after the title.
  let lx = tb.x + tb.w + 24;
  const ly = y0 + 18;
  svg.raw(`<circle cx="${lx}" cy="${ly - 4}" r="4.5" fill="${COLOR.p50}"/>`);
  lx = svg.text(lx + 9, ly, 'p50 (median)', { size: TICK }).x + textWidth('p50 (median)', TICK) + 20;
  svg.raw(`<path d="M${lx} ${ly - 10}l6 6l-6 6l-6 -6z" fill="${COLOR.p99}"/>`);
  svg.text(lx + 10, ly, 'p99', { size: TICK });
  const bottom = top + rows.length * ROW_H + 4;
  const end = bottomAxis(svg, g, top, bottom, axis.ticks, px, fmt,
    `round-trip time, µs: log scale from ${group(axis.lo)} to ${group(axis.hi)} µs (the range of the data)`);
  for (const v of [k?.rttP50Us, k?.rttP99Us]) {
    if (v !== undefined && v > 0) svg.line(g.plotL + px(v), top, g.plotL + px(v), bottom, COLOR.ref, 'stroke-dasharray="5 3"');
  }
  rowNames(svg, g, rows, top);
  rows.forEach((r, i) => {
    const cy = top + i * ROW_H + ROW_H / 2;
    svg.open('rtt', { path: r.path, p50: r.rttP50Us === undefined ? 'none' : String(r.rttP50Us), p99: String(r.rttP99Us) });
    const x99 = g.plotL + px(r.rttP99Us);
    if (r.rttP50Us !== undefined) {
      const x50 = g.plotL + px(r.rttP50Us);
      svg.line(x50, cy, x99, cy, '#bbb', 'stroke-width="2"');
      svg.raw(`<circle cx="${x50.toFixed(1)}" cy="${cy}" r="4.5" fill="${COLOR.p50}"/>`);
    }
    svg.raw(`<path d="M${x99.toFixed(1)} ${cy - 6}l6 6l-6 6l-6 -6z" fill="${COLOR.p99}"/>`);
    svg.close();
    const added = (v: number | undefined, ref: number | undefined): string =>
      v === undefined ? 'not recorded' : `${group(v)} µs${ref === undefined || r.path === 'kernel' ? '' : ` (${signed(v - ref)})`}`;
    svg.text(g.noteL, cy + 4, `p50 ${added(r.rttP50Us, k?.rttP50Us)} · p99 ${added(r.rttP99Us, k?.rttP99Us)}${r.path === 'kernel' ? ' (the reference)' : ''}`, { size: TICK });
  });
  return end;
}

/** Panel 5: CPU seconds per GB moved; "not measured" where the harness has no tunnel process to measure. */
function cpuPanel(svg: Svg, g: Geo, y0: number, rows: Row[]): number {
  const measured = rows.map((r) => r.cpuSecondsPerGB).filter((v): v is number => v !== null);
  const { top } = head(svg, g, y0, {
    title: 'CPU per GB moved, lower is better',
    notes: ['user + system CPU seconds of both tunnel processes, per GB received, over the 1-stream TCP runs',
      'not measured: paths without a tunnel process (the veth alone, the kernel\'s vxlan device)'],
  });
  const bottom = top + rows.length * ROW_H + 4;
  const axis = linearAxis(measured.length ? Math.max(...measured) : 1, g.plotW, tickNum, TICK);
  const px = (v: number): number => (v / axis.hi) * g.plotW;
  const end = bottomAxis(svg, g, top, bottom, axis.ticks, px, tickNum, 'CPU seconds per GB (s/GB), linear from 0');
  rowNames(svg, g, rows, top);
  rows.forEach((r, i) => {
    const cy = top + i * ROW_H + ROW_H / 2;
    const v = r.cpuSecondsPerGB;
    if (v === null) {
      svg.open('cpu', { path: r.path, measured: 'no' });
      svg.close();
      svg.text(g.plotL + 6, cy + 4, 'not measured', { size: TICK, italic: true, fill: COLOR.muted });
      return;
    }
    svg.open('cpu', { path: r.path, measured: 'yes', value: v.toFixed(2) });
    svg.rect(g.plotL, cy - 6, px(v), 12, COLOR.bar);
    svg.close();
    svg.text(g.noteL, cy + 4, `${v.toFixed(2)} s/GB`, { size: TICK });
  });
  return end;
}

/** The ping counts at one spacing, as run ("1,000"; "900-1,000" when paths differ, e.g. lost pings). */
function counts(items: LatencyItem[], sp: string): string {
  const ns = items.filter((it) => it.what === `ping ${sp} ms` && it.count !== undefined).map((it) => it.count!);
  if (ns.length === 0) return '–';
  const lo = Math.min(...ns), hi = Math.max(...ns);
  return lo === hi ? group(lo) : `${group(lo)}–${group(hi)}`;
}

/** Panel 6: p50, p99 and p99.9 per path and spacing, log axis; the time added over kernel vxlan at the same spacing beside. */
function latencyPanel(svg: Svg, g: Geo, y0: number, items: LatencyItem[]): number {
  const values = items.flatMap((it) => [it.p50, it.p99, it.p999]).filter((v) => v > 0);
  const fmt = (v: number): string => tickNum(v);
  const axis = logAxis(Math.min(...values), Math.max(...values), g.plotW, fmt, TICK);
  const px = (v: number): number => ((Math.log10(Math.max(v, axis.lo)) - Math.log10(axis.lo)) / (Math.log10(axis.hi) - Math.log10(axis.lo))) * g.plotW;
  const { top } = head(svg, g, y0, {
    title: 'Round trips at three ping spacings and sockperf ping-pong',
    notes: [`ping 10 ms apart (${counts(items, '10')}), 1 ms (${counts(items, '1')}), 0.2 ms (${counts(items, '0.2')}); sockperf: UDP 64-byte messages back to back`,
      'dot: p50 · diamond: p99 · bar end: p99.9 · in brackets: the time added over kernel vxlan at the same spacing'],
  });
  const bottom = top + items.length * ROW_H + 4;
  const end = bottomAxis(svg, g, top, bottom, axis.ticks, px, fmt,
    `round-trip time, µs: log scale from ${group(axis.lo)} to ${group(axis.hi)} µs (the range of the data)`);
  items.forEach((it, i) => {
    const cy = top + i * ROW_H + ROW_H / 2;
    svg.text(g.nameRight, cy + 4, `${it.path} · ${it.what}`, { anchor: 'end', ...(it.path === 'kernel' ? { weight: 'bold' as const } : {}) });
    svg.open('latency', { path: it.path, what: it.what, p50: String(it.p50), p99: String(it.p99), p999: String(it.p999) });
    const x50 = g.plotL + px(it.p50);
    const x99 = g.plotL + px(it.p99);
    const x999 = g.plotL + px(it.p999);
    svg.line(x50, cy, x999, cy, '#bbb', 'stroke-width="2"');
    svg.line(x999, cy - 5, x999, cy + 5, COLOR.p99, 'stroke-width="1.5"');
    svg.raw(`<circle cx="${x50.toFixed(1)}" cy="${cy}" r="4.5" fill="${COLOR.p50}"/>`);
    svg.raw(`<path d="M${x99.toFixed(1)} ${cy - 6}l6 6l-6 6l-6 -6z" fill="${COLOR.p99}"/>`);
    svg.close();
    const f = (v: number, ref: number | undefined): string => `${group(v)}${ref === undefined ? '' : ` (${signed(v - ref)})`}`;
    svg.text(g.noteL, cy + 4, `p50 ${f(it.p50, it.ref?.p50)} · p99 ${f(it.p99, it.ref?.p99)} · p99.9 ${f(it.p999, it.ref?.p999)} µs`, { size: TICK });
  });
  return end;
}

const spreadOf = (runs: number[] | undefined, med: number): Spread => {
  const xs = runs && runs.length ? runs : [med];
  return { min: Math.min(...xs), med: runs && runs.length ? median(runs) : med, max: Math.max(...xs), n: xs.length };
};

export interface Chart { svg: string; labels: Label[]; width: number; height: number }

export function chartLayout(raw: Raw): Chart {
  const rows = raw.results;
  const lat = latencyItems(rows);
  const nameW = Math.max(...rows.map((r) => textWidth(r.path, 12, r.path === 'kernel')), ...lat.map((it) => textWidth(`${it.path} · ${it.what}`, 12, it.path === 'kernel')));
  const nameRight = Math.max(132, 16 + nameW);
  const g: Geo = { nameRight, plotL: nameRight + 12, plotR: nameRight + 12 + PLOT_W, plotW: PLOT_W, noteL: nameRight + 12 + PLOT_W + 16 };
  const svg = new Svg(0, 0);
  const m = raw.meta;
  svg.text(16, 24, 'vxtap lab benchmark: every path against kernel vxlan measured in the same run', { size: 16, weight: 'bold' });
  const facts = [m['date'], m['cores'] !== undefined ? `${m['cores']} cores` : undefined, m['kernel'] !== undefined ? `kernel ${m['kernel']}` : undefined,
    m['node'] !== undefined ? `Node ${m['node']}` : undefined,
    m['secondsPerRun'] !== undefined ? `${m['secondsPerRun']} s per run, ${m['repeat']} run${m['repeat'] === 1 ? '' : 's'} per path` : undefined,
    m['underlay'] !== undefined ? `underlay: ${m['underlay']}` : undefined].filter((f) => f !== undefined);
  svg.text(16, 44, facts.join(' · '), { size: TICK, fill: COLOR.muted });
  let y = 56;
  y = rangePanel(svg, g, y, rows, {
    title: 'TCP, 1 stream', what: 'iperf3, received', unit: 'Gbit/s', axisTitle: 'Gbit/s, linear from 0',
    spread: (r) => spreadOf(r.tcp1Runs, r.tcp1Gbps), scale: 1, digits: 2,
  });
  y = rangePanel(svg, g, y + 8, rows, {
    title: 'TCP, 4 streams', what: 'iperf3, received, the 4 streams\' sum', unit: 'Gbit/s', axisTitle: 'Gbit/s, linear from 0',
    spread: (r) => spreadOf(r.tcp4Runs, r.tcp4Gbps), scale: 1, digits: 2,
  });
  y = rangePanel(svg, g, y + 8, rows, {
    title: 'UDP, 64-byte payloads, unthrottled', what: 'iperf3, packets per second received (limited by iperf3\'s sender)', unit: 'kpps', axisTitle: 'thousand packets per second (kpps), linear from 0',
    spread: (r) => spreadOf(undefined, r.udp64Pps), scale: 1e-3, digits: 0,
  });
  y = rttPanel(svg, g, y + 8, rows);
  y = cpuPanel(svg, g, y + 8, rows);
  if (lat.length > 0) y = latencyPanel(svg, g, y + 8, lat);
  svg.height = y + 8;
  svg.width = Math.max(MIN_W, Math.ceil(Math.max(...svg.labels.map((l) => l.box.x + l.box.w)) + 16));
  return { svg: svg.toString(), labels: svg.labels, width: svg.width, height: svg.height };
}
