/**
 * One chart to read at a glance: a horizontal bar per case, operations per
 * second on a log scale (the cases span nanoseconds to milliseconds), grouped
 * by suite, each group headed by its suite's title (which says what one op is). Plain SVG, made by
 * hand: no dependency, opens in any browser.
 */
import { si, type Machine, type SavedSuite } from './results';

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#b07aa1', '#edc948'];

const W = 1200;
const LABEL_X = 12;
const PLOT_X0 = 400;
const PLOT_X1 = 1040;
const ROW = 17;
const HEAD = 30;
const TOP = 78;

/** 10^d as 1, 10, 100, 1k, ... 100G. */
function decade(d: number): string {
  const units = ['', 'k', 'M', 'G', 'T'];
  const u = Math.min(Math.floor(d / 3), units.length - 1);
  return `${10 ** (d - 3 * u)}${units[u]}`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function chartSvg(suites: SavedSuite[], m: Machine, date: string): string {
  const all = suites.flatMap((s) => s.results.map((r) => r.ops)).filter((x) => x > 0);
  const lo = Math.floor(Math.log10(Math.min(...all)));
  const hi = Math.ceil(Math.log10(Math.max(...all)));
  const x = (ops: number): number => PLOT_X0 + ((Math.log10(ops) - lo) / (hi - lo)) * (PLOT_X1 - PLOT_X0);

  const body: string[] = [];
  let y = TOP;
  suites.forEach((s, si_) => {
    const color = COLORS[si_ % COLORS.length]!;
    y += HEAD;
    body.push(`<text x="${LABEL_X}" y="${y - 9}" class="head">${esc(s.name)}</text>`);
    for (const r of s.results) {
      const w = Math.max(1, x(r.ops) - PLOT_X0);
      body.push(
        `<text x="${PLOT_X0 - 8}" y="${y + 12}" class="label" text-anchor="end">${esc(r.name)}</text>`,
        `<rect x="${PLOT_X0}" y="${y + 2}" width="${w.toFixed(1)}" height="${ROW - 4}" fill="${color}"/>`,
        `<text x="${(PLOT_X0 + w + 6).toFixed(1)}" y="${y + 12}" class="value">${si(r.ops)}/s ±${r.margin.toFixed(1)}%</text>`,
      );
      y += ROW;
    }
  });
  const bottom = y + 8;

  const grid: string[] = [];
  for (let d = lo; d <= hi; d++) {
    const gx = x(10 ** d).toFixed(1);
    const label = decade(d);
    grid.push(
      `<line x1="${gx}" y1="${TOP}" x2="${gx}" y2="${bottom}" class="grid"/>`,
      `<text x="${gx}" y="${TOP - 6}" class="axis" text-anchor="middle">${label}</text>`,
      `<text x="${gx}" y="${bottom + 16}" class="axis" text-anchor="middle">${label}</text>`,
    );
  }
  const H = bottom + 30;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    '<style>',
    'text { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; fill: #222; }',
    '.title { font-size: 17px; font-weight: bold; } .sub { font-size: 12px; fill: #555; }',
    '.head { font-size: 13px; font-weight: bold; } .label { font-size: 11.5px; } .value { font-size: 11px; fill: #333; }',
    '.axis { font-size: 11px; fill: #555; } .grid { stroke: #ddd; stroke-width: 1; }',
    '</style>',
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${LABEL_X}" y="24" class="title">vxtap microbenchmarks: operations per second (log scale, longer is faster)</text>`,
    `<text x="${LABEL_X}" y="44" class="sub">${esc(`${date}, ${m.cores} cores (${m.cpu}), Node ${m.node}, ${m.kernel}. Compare within a suite: absolute numbers drift on shared machines.`)}</text>`,
    ...grid,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
