/**
 * `npm run bench:latency` reads what bench/latency/run.sh left in a directory
 * and prints the budget: the reference paths' ping RTT at each spacing, and
 * one round trip through vxtap split into hops (budget.ts), p50 and p99 each.
 * Writes budget.md and budget.json beside the inputs.
 *
 *   node dist/bench/latency/main.js DIR
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { budget, framePoints, index, parsePing, summarize, type FramePoints, type HopResult, type Summary } from './budget';
import { icmpEcho, readPcap } from './pcap';
import { readStamps } from './stamps';

export const SPACINGS = ['0.01', '0.001', '0.0002'] as const;
export const PATHS = ['kernel', 'tinc', 'vxtap', 'vxtap-stamped'] as const;
const ms = (sp: string): string => `${Number((Number(sp) * 1000).toPrecision(3))} ms`;

export interface Window { spacing: string; start: bigint; end: bigint }
export function parseWindows(text: string): Window[] {
  return text.trim().split('\n').filter((l) => l.trim() !== '').map((l) => {
    const [spacing, start, end] = l.trim().split(/\s+/);
    return { spacing: spacing!, start: BigInt(start!), end: BigInt(end!) };
  });
}

/** The ICMP id of the echo requests seen in [start, end]: the most frequent one (the ping run's). */
export function pingId(records: { ns: bigint; data: Buffer }[], w: Window): number | undefined {
  const n = new Map<number, number>();
  for (const r of records) {
    if (r.ns < w.start || r.ns > w.end) continue;
    const e = icmpEcho(r.data);
    if (e !== null && e.type === 8) n.set(e.id, (n.get(e.id) ?? 0) + 1);
  }
  let best: number | undefined, most = 0;
  for (const [id, c] of n) if (c > most) { best = id; most = c; }
  return best;
}

const f1 = (v: number): string => (Number.isNaN(v) ? '–' : v < 10 ? v.toFixed(1) : v.toFixed(0));
const added = (v: number, ref: number | undefined): string => (ref === undefined || Number.isNaN(ref) ? f1(v) : `${f1(v)} (${v - ref >= 0 ? '+' : ''}${f1(v - ref)})`);

export function referenceTable(rtt: Record<string, Record<string, Summary>>): string {
  const lines = [`| path | ${SPACINGS.map((s) => `${ms(s)}: p50 (+kernel) | p99 | p99.9`).join(' | ')} |`, `|---|${SPACINGS.map(() => '---:|---:|---:').join('|')}|`];
  for (const p of PATHS) {
    const r = rtt[p];
    if (r === undefined) continue;
    const cells = SPACINGS.map((s) => {
      const v = r[s], k = p === 'kernel' ? undefined : rtt['kernel']?.[s];
      return v === undefined ? '– | – | –' : `${added(v.p50, k?.p50)} | ${f1(v.p99)} | ${f1(v.p999)}`;
    });
    lines.push(`| ${p} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n') + '\n';
}

export function budgetTable(bySpacing: Record<string, HopResult[]>): string {
  const sp = SPACINGS.filter((s) => bySpacing[s] !== undefined);
  const lines = [`| leg | hop | how | ${sp.map((s) => `${ms(s)}: p50 | p99 | n`).join(' | ')} |`, `|---|---|---|${sp.map(() => '---:|---:|---:').join('|')}|`];
  const first = bySpacing[sp[0]!]!;
  first.forEach((h, i) => {
    lines.push(`| ${h.leg} | ${h.name} | ${h.how} | ${sp.map((s) => { const x = bySpacing[s]![i]!.stats; return `${f1(x.p50)} | ${f1(x.p99)} | ${x.n}`; }).join(' | ')} |`);
  });
  return lines.join('\n') + '\n';
}

function main(dir: string): void {
  const read = (f: string): string | undefined => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : undefined);
  const rtt: Record<string, Record<string, Summary>> = {};
  for (const p of PATHS) {
    for (const s of SPACINGS) {
      const text = read(`${p}-${s}.ping`);
      if (text === undefined) continue;
      (rtt[p] ??= {})[s] = summarize([...parsePing(text).values()]);
    }
  }
  const bySpacing: Record<string, HopResult[]> = {};
  const stampsFull: string[] = [];
  if (existsSync(join(dir, 'a.stamps'))) {
    const tapA = readPcap(readFileSync(join(dir, 'tap-a.pcap')));
    const sa = readStamps(readFileSync(join(dir, 'a.stamps')));
    const sb = readStamps(readFileSync(join(dir, 'b.stamps')));
    if (sa.full) stampsFull.push('a');
    if (sb.full) stampsFull.push('b');
    const x = index({
      tapA, ethA: readPcap(readFileSync(join(dir, 'eth-a.pcap'))), ethB: readPcap(readFileSync(join(dir, 'eth-b.pcap'))),
      tapB: readPcap(readFileSync(join(dir, 'tap-b.pcap'))), stampsA: sa.stamps, stampsB: sb.stamps,
    });
    for (const w of parseWindows(read('vxtap-stamped.windows') ?? '')) {
      const id = pingId(tapA, w);
      const pings = parsePing(read(`vxtap-stamped-${w.spacing}.ping`) ?? '');
      if (id === undefined) continue;
      const frames: FramePoints[] = [...pings].map(([seq, us]) => framePoints(x, id, seq, us));
      bySpacing[w.spacing] = budget(frames);
    }
  }
  const load = [read('load1-start')?.trim(), read('load1')?.trim()].filter((v) => v !== undefined).join(' → ');
  const md = [
    `Latency budget, ${new Date().toISOString().slice(0, 16)}Z, 1-minute load average ${load || 'unknown'}.`,
    '',
    'Ping RTT per path and spacing, µs (nearest-rank percentiles; in brackets: added over kernel vxlan at that spacing):',
    '',
    referenceTable(rtt),
    Object.keys(bySpacing).length === 0 ? 'No stamped run in this directory: no budget.\n' : [
      'One round trip through vxtap, hop by hop, µs. how: stamp = two addon stamps in one process; pcap = two AF_PACKET (tcpdump) timestamps;',
      'pcap→stamp / stamp→pcap = one of each, same clock (CLOCK_REALTIME); inferred = a measured whole minus measured parts; ping = ping\'s own figure.',
      'n: echoes with both ends of the hop seen. Hops overlap where the kernel works inside a system call (a send call holds the datagram\'s way to the peer).',
      stampsFull.length > 0 ? `**The stamp file of ${stampsFull.join(' and ')} ran full: later frames are missing.**` : '',
      '',
      budgetTable(bySpacing),
    ].join('\n'),
  ].join('\n');
  writeFileSync(join(dir, 'budget.md'), md);
  writeFileSync(join(dir, 'budget.json'), JSON.stringify({ load, rtt, budget: bySpacing }, null, 2));
  process.stdout.write(`${md}\nwrote ${join(dir, 'budget.md')} and budget.json\n`);
}

if (require.main === module) {
  const dir = process.argv[2];
  if (dir === undefined) {
    process.stderr.write('usage: node dist/bench/latency/main.js DIR   (a directory bench/latency/run.sh wrote)\n');
    process.exit(2);
  }
  main(dir);
}
