/**
 * The lab benchmark's report: reads the raw results of bench/lab/run.sh and
 * prints every figure as a % of kernel vxlan measured in the same run (RTT
 * as the time added over it; round trips at three ping spacings and sockperf
 * ping-pong in a second table), then writes the table (Markdown) and the
 * chart (SVG, charts.ts) beside the raw file.
 *
 *   node dist/bench/lab/report.js bench/results/lab/raw-….json
 *   node dist/bench/lab/report.js bench/lab-last-run.json --svg-only   (the chart the README shows)
 */
import { readFileSync, writeFileSync } from 'node:fs';

import { chartLayout, latencyItems, type Raw } from './charts';

const pct = (v: number, ref: number): string => (ref > 0 ? `${((100 * v) / ref).toFixed(1)}%` : 'n/a');

export function table(raw: Raw): string {
  const k = raw.results.find((r) => r.path === 'kernel');
  const lines = [
    '| path | TCP 1 stream Gbit/s | % kernel | TCP 4 streams Gbit/s | % kernel | UDP 64 B kpps | % kernel | RTT avg µs (+kernel) | RTT p50 µs (+kernel) | RTT p99 µs (+kernel) | CPU s/GB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of raw.results) {
    const add = (v: number, ref: number | undefined): string => (ref === undefined || r.path === 'kernel' ? v.toFixed(0) : `${v.toFixed(0)} (${v - ref >= 0 ? '+' : ''}${(v - ref).toFixed(0)})`);
    lines.push(`| ${r.path} | ${r.tcp1Gbps.toFixed(2)} | ${k ? pct(r.tcp1Gbps, k.tcp1Gbps) : 'n/a'} | ${r.tcp4Gbps.toFixed(2)} | ${k ? pct(r.tcp4Gbps, k.tcp4Gbps) : 'n/a'} | ${(r.udp64Pps / 1000).toFixed(0)} | ${k ? pct(r.udp64Pps, k.udp64Pps) : 'n/a'} | ${add(r.rttAvgUs, k?.rttAvgUs)} | ${r.rttP50Us === undefined ? '-' : add(r.rttP50Us, k?.rttP50Us)} | ${add(r.rttP99Us, k?.rttP99Us)} | ${r.cpuSecondsPerGB === null ? '-' : r.cpuSecondsPerGB.toFixed(2)} |`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Round trips at the three ping spacings and sockperf ping-pong (issue #14):
 * p50, p99, p99.9 per path, each with the time added over kernel vxlan at
 * the same spacing in the same run. Empty for runs made before they existed.
 */
export function latencyTable(raw: Raw): string {
  const items = latencyItems(raw.results);
  if (items.length === 0) return '';
  const f = (v: number, ref: number | undefined): string => (ref === undefined ? v.toFixed(0) : `${v.toFixed(0)} (${v - ref >= 0 ? '+' : ''}${(v - ref).toFixed(0)})`);
  const lines = [
    '| path | test | p50 µs (+kernel) | p99 µs (+kernel) | p99.9 µs (+kernel) |',
    '|---|---|---:|---:|---:|',
  ];
  for (const it of items) lines.push(`| ${it.path} | ${it.what} | ${f(it.p50, it.ref?.p50)} | ${f(it.p99, it.ref?.p99)} | ${f(it.p999, it.ref?.p999)} |`);
  return lines.join('\n') + '\n';
}

/** The chart (charts.ts): spread of runs, RTT and CPU per GB, each path against kernel vxlan. */
export function chart(raw: Raw): string {
  return raw.results.length ? chartLayout(raw).svg : '';
}

if (require.main === module) {
  const args = process.argv.slice(2);
  // --svg-only: redo the chart of a recorded run (bench/lab-*.json) without writing a .md beside it.
  const svgOnly = args.includes('--svg-only');
  const file = args.find((a) => !a.startsWith('--'));
  if (!file) {
    process.stderr.write('usage: report RAW.json [--svg-only]\n');
    process.exit(2);
  }
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Raw;
  const lat = latencyTable(raw);
  const md = `${Object.entries(raw.meta).map(([k, v]) => `${k}: ${v}`).join(', ')}\n\n${table(raw)}${lat === '' ? '' : `\n${lat}`}`;
  const base = file.replace(/\.json$/, '');
  if (!svgOnly) writeFileSync(`${base}.md`, md);
  const svg = chart(raw);
  if (svg) writeFileSync(`${base}.svg`, svg);
  const wrote = [svgOnly ? '' : `${base}.md`, svg ? `${base}.svg` : ''].filter((w) => w !== '').join(' and ');
  process.stdout.write(`${svgOnly ? '' : `\n${md}\n`}wrote ${wrote || 'nothing'}\n`);
}
