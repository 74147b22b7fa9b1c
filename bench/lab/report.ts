/**
 * The lab benchmark's report: reads the raw results of bench/lab/run.sh and
 * prints every figure as a % of kernel vxlan measured in the same run (RTT
 * as the time added over it), then writes the table (Markdown) and a bar
 * chart (SVG) beside the raw file.
 *
 *   node dist/bench/lab/report.js bench/results/lab/raw-….json
 */
import { readFileSync, writeFileSync } from 'node:fs';

interface Row {
  path: string;
  tcp1Gbps: number;
  tcp4Gbps: number;
  udp64Pps: number;
  rttAvgUs: number;
  /** Absent in runs made before it was measured. */
  rttP50Us?: number;
  rttP99Us: number;
  cpuSecondsPerGB: number | null;
}
interface Raw { meta: Record<string, string | number>; results: Row[] }

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

/** A grouped bar chart: each path's TCP 1, TCP 4 and UDP pps as % of kernel vxlan (log scale, 1%–200%). */
export function chart(raw: Raw): string {
  const k = raw.results.find((r) => r.path === 'kernel');
  if (!k) return '';
  const metrics: [string, (r: Row) => number, string][] = [
    ['TCP 1 stream', (r) => r.tcp1Gbps / k.tcp1Gbps, '#4477aa'],
    ['TCP 4 streams', (r) => r.tcp4Gbps / k.tcp4Gbps, '#66ccee'],
    ['UDP 64 B pps', (r) => r.udp64Pps / k.udp64Pps, '#ee6677'],
  ];
  const W = 760, H = 360, left = 70, top = 50, bottom = 60, plotH = H - top - bottom;
  const groupW = (W - left - 20) / raw.results.length;
  const barW = (groupW - 20) / metrics.length;
  const y = (ratio: number): number => {
    const v = Math.min(Math.max(ratio, 0.01), 2);
    return top + plotH * (1 - (Math.log10(v) + 2) / (Math.log10(2) + 2));
  };
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">Throughput as % of kernel vxlan, same run (${raw.meta['date']}, ${raw.meta['cores']} cores)</text>`,
  ];
  for (const tick of [0.01, 0.1, 0.2, 0.5, 1, 2]) {
    out.push(`<line x1="${left}" x2="${W - 20}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="${tick === 1 ? '#333' : '#ddd'}"/>`);
    out.push(`<text x="${left - 6}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end">${tick * 100}%</text>`);
  }
  raw.results.forEach((r, g) => {
    const gx = left + 10 + g * groupW;
    metrics.forEach(([, f, color], m) => {
      const ratio = f(r);
      const x = gx + m * barW;
      const yt = y(ratio);
      out.push(`<rect x="${x.toFixed(1)}" y="${yt.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - yt).toFixed(1)}" fill="${color}"/>`);
      out.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${(yt - 3).toFixed(1)}" text-anchor="middle" font-size="10">${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)}%</text>`);
    });
    out.push(`<text x="${(gx + (groupW - 20) / 2).toFixed(1)}" y="${H - bottom + 18}" text-anchor="middle">${r.path}</text>`);
  });
  metrics.forEach(([name, , color], m) => {
    out.push(`<rect x="${left + m * 150}" y="${H - 22}" width="12" height="12" fill="${color}"/><text x="${left + m * 150 + 16}" y="${H - 12}">${name}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: report RAW.json\n');
    process.exit(2);
  }
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Raw;
  const md = `${Object.entries(raw.meta).map(([k, v]) => `${k}: ${v}`).join(', ')}\n\n${table(raw)}`;
  const base = file.replace(/\.json$/, '');
  writeFileSync(`${base}.md`, md);
  const svg = chart(raw);
  if (svg) writeFileSync(`${base}.svg`, svg);
  process.stdout.write(`\n${md}\nwrote ${base}.md${svg ? ` and ${base}.svg` : ''}\n`);
}
