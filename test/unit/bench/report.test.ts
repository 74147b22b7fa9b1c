/**
 * The lab report's chart (bench/lab/charts.ts) on the two recorded full runs
 * and on made-up runs: one lowest–median–highest mark per path and TCP panel
 * with the run figures from the JSON, labelled axes, RTT and CPU panels,
 * "not measured" where CPU per GB is null, and no two labels overlapping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chartLayout, latencyItems, type Raw, type Row, type RttStats } from '../../../bench/lab/charts';
import { chart, latencyTable, table } from '../../../bench/lab/report';
import { linearAxis, logAxis } from '../../../bench/lab/axis';
import { intersects, textWidth, type Label } from '../../../bench/lab/svg';
import { REPO } from '../../helpers/daemon';

const recorded: [string, Raw][] = ['lab-last-run.json', 'lab-second-run.json']
  .map((f) => [f, JSON.parse(readFileSync(join(REPO, 'bench', f), 'utf8')) as Raw]);

/** Every pair of labels that overlaps, named, so a failure says which. */
function overlaps(labels: Label[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < labels.length; i++) {
    for (let j = i + 1; j < labels.length; j++) {
      if (intersects(labels[i]!.box, labels[j]!.box)) out.push(`"${labels[i]!.text}" and "${labels[j]!.text}"`);
    }
  }
  return out;
}

function outside(labels: Label[], w: number, h: number): string[] {
  return labels.filter((l) => l.box.x < 0 || l.box.y < 0 || l.box.x + l.box.w > w || l.box.y + l.box.h > h).map((l) => l.text);
}

/** The `<g class="cls" data-path="p" ...>` marks, their data-* attributes by name. */
function marks(svg: string, cls: string): Record<string, string>[] {
  return [...svg.matchAll(new RegExp(`<g class="${cls}"([^>]*)>`, 'g'))].map((m) =>
    Object.fromEntries([...m[1]!.matchAll(/data-([a-z0-9]+)="([^"]*)"/g)].map((a) => [a[1]!, a[2]!])));
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

test('the overlap check finds overlapping boxes (so that "none found" means something)', () => {
  const a = { text: 'a', box: { x: 0, y: 0, w: 10, h: 10 } };
  assert.deepEqual(overlaps([a, { text: 'b', box: { x: 9, y: 9, w: 10, h: 10 } }]), ['"a" and "b"']);
  assert.deepEqual(overlaps([a, { text: 'c', box: { x: 10, y: 0, w: 10, h: 10 } }]), []);
  assert.ok(textWidth('vxtap-offload', 12) > textWidth('veth', 12));
});

for (const [file, raw] of recorded) {
  test(`${file}: one lowest–median–highest mark per path in each TCP panel, with the runs' figures`, () => {
    const { svg } = chartLayout(raw);
    const spread = marks(svg, 'range').filter((m) => m['runs'] !== '1');
    assert.equal(spread.length, 2 * raw.results.length);
    for (const r of raw.results) {
      const mine = spread.filter((m) => m['path'] === r.path);
      assert.equal(mine.length, 2, r.path);
      const [one, four] = mine as [Record<string, string>, Record<string, string>];
      for (const [m, runs] of [[one, r.tcp1Runs!], [four, r.tcp4Runs!]] as const) {
        assert.equal(m['min'], Math.min(...runs).toFixed(2));
        assert.equal(m['median'], median(runs).toFixed(2));
        assert.equal(m['max'], Math.max(...runs).toFixed(2));
      }
    }
  });

  test(`${file}: the axes say what is plotted and in which unit; no log floor on throughput`, () => {
    const { svg } = chartLayout(raw);
    assert.equal((svg.match(/Gbit\/s, linear from 0/g) ?? []).length, 2);
    assert.equal((svg.match(/% of kernel vxlan's median, measured in the same run/g) ?? []).length, 3);
    assert.match(svg, /thousand packets per second \(kpps\), linear from 0/);
    assert.match(svg, /CPU seconds per GB \(s\/GB\), linear from 0/);
    assert.doesNotMatch(svg, />1%</, 'no arbitrary 1% floor');
  });

  test(`${file}: no two labels overlap, and all lie inside the picture`, () => {
    const c = chartLayout(raw);
    assert.ok(c.labels.length > 100, `${c.labels.length} labels`);
    assert.deepEqual(overlaps(c.labels), []);
    assert.deepEqual(outside(c.labels, c.width, c.height), []);
  });

  test(`${file}: the RTT panel has p50 and p99 per path, on a log axis fitted to the data, with the time added over kernel vxlan`, () => {
    const { svg } = chartLayout(raw);
    const rtt = marks(svg, 'rtt');
    assert.deepEqual(rtt.map((m) => m['path']), raw.results.map((r) => r.path));
    for (const r of raw.results) {
      const m = rtt.find((x) => x['path'] === r.path)!;
      assert.equal(Number(m['p50']), r.rttP50Us);
      assert.equal(Number(m['p99']), r.rttP99Us);
    }
    const all = raw.results.flatMap((r) => [r.rttP50Us!, r.rttP99Us]);
    const range = /log scale from ([\d,]+) to ([\d,]+) µs \(the range of the data\)/.exec(svg);
    assert.ok(range, 'the RTT axis says its scale and range');
    const lo = Number(range[1]!.replace(/,/g, '')), hi = Number(range[2]!.replace(/,/g, ''));
    assert.ok(lo <= Math.min(...all) && lo > Math.min(...all) / 2.5, `lo ${lo}`);
    assert.ok(hi >= Math.max(...all) && hi < Math.max(...all) * 2.5, `hi ${hi}`);
    const k = raw.results.find((r) => r.path === 'kernel')!;
    const offload = raw.results.find((r) => r.path === 'vxtap-offload')!;
    const added = Math.round(offload.rttP50Us! - k.rttP50Us!).toLocaleString('en-US');
    assert.match(svg, new RegExp(`p50 ${Math.round(offload.rttP50Us!).toLocaleString('en-US')} µs \\(\\+${added}\\)`));
  });

  test(`${file}: the CPU panel draws measured paths and says "not measured" for the others, never a zero bar`, () => {
    const { svg } = chartLayout(raw);
    const cpu = marks(svg, 'cpu');
    assert.equal(cpu.length, raw.results.length);
    const missing = raw.results.filter((r) => r.cpuSecondsPerGB === null);
    assert.ok(missing.length > 0 && missing.length < raw.results.length);
    assert.equal((svg.match(/>not measured</g) ?? []).length, missing.length);
    for (const r of raw.results) {
      const m = cpu.find((x) => x['path'] === r.path)!;
      if (r.cpuSecondsPerGB === null) assert.equal(m['measured'], 'no');
      else assert.equal(m['value'], r.cpuSecondsPerGB.toFixed(2));
    }
    // An unmeasured path's group is empty: nothing drawn at 0.
    for (const r of missing) assert.match(svg, new RegExp(`<g class="cpu" data-path="${r.path}" data-measured="no">\\n</g>`));
  });

  test(`${file}: report.chart is that chart, and the table still has a row per path`, () => {
    assert.equal(chart(raw), chartLayout(raw).svg);
    assert.equal(table(raw).trim().split('\n').length, 2 + raw.results.length);
  });
}

/** A made-up run: `n` paths, figures spread over several orders of magnitude, from a fixed seed. */
function madeUp(seed: number, n: number): Raw {
  let s = seed;
  const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const mag = (): number => 10 ** (rnd() * 4 - 1);
  const results: Row[] = Array.from({ length: n }, (_, i) => {
    const runs = (): number[] => { const b = mag(); return [b, b * (0.5 + rnd()), b * (0.5 + rnd())]; };
    const tcp1Runs = runs(), tcp4Runs = runs();
    const p50 = 10 + mag() * 100;
    return {
      path: i === 1 ? 'kernel' : `path-with-a-long-name-${i}`.slice(0, 8 + (i % 14)),
      tcp1Gbps: median(tcp1Runs), tcp4Gbps: median(tcp4Runs), tcp1Runs, tcp4Runs,
      udp64Pps: mag() * 1e5, rttAvgUs: p50 * 1.2, rttP50Us: p50, rttP99Us: p50 * (1 + mag() * 10),
      cpuSecondsPerGB: rnd() < 0.3 ? null : mag() * 10,
    };
  });
  return { meta: { date: '2026-11-29T00:00:00Z', cores: 2, secondsPerRun: 2, repeat: 3 }, results };
}

test('made-up runs over four orders of magnitude, 2 to 12 paths: no two labels overlap, none leaves the picture', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const c = chartLayout(madeUp(seed, 2 + (seed % 11)));
    assert.deepEqual(overlaps(c.labels), [], `seed ${seed}`);
    assert.deepEqual(outside(c.labels, c.width, c.height), [], `seed ${seed}`);
  }
});

test('a run from before the harness kept every run or p50: one mark per path, p50 "not recorded"', () => {
  const raw = madeUp(7, 3);
  for (const r of raw.results) { delete r.tcp1Runs; delete r.tcp4Runs; delete r.rttP50Us; }
  const c = chartLayout(raw);
  assert.equal(marks(c.svg, 'range').filter((m) => m['runs'] === '1').length, 3 * 3);
  assert.equal((c.svg.match(/p50 not recorded/g) ?? []).length, 3);
  assert.deepEqual(overlaps(c.labels), []);
});

test('axes: linear from 0 to a tick at or above the largest value; log between the 1-2-5 values around the data', () => {
  const lin = linearAxis(10.7, 456, String, 11);
  assert.equal(lin.ticks[0], 0);
  assert.ok(lin.hi >= 10.7 && lin.hi <= 15, `hi ${lin.hi}`);
  assert.equal(lin.ticks[lin.ticks.length - 1], lin.hi);
  const log = logAxis(49, 8280, 456, String, 11);
  assert.equal(log.lo, 20);
  assert.equal(log.hi, 10000);
  assert.ok(log.ticks.includes(100) && log.ticks.includes(1000));
  const tight = logAxis(49, 8280, 120, String, 11);
  assert.ok(tight.ticks.length < log.ticks.length, 'fewer ticks when they would not fit');
});

/** Issue #14's figures on a made-up run: ping at each spacing and sockperf, kernel's the reference at the same spacing. */
function withLatency(raw: Raw): Raw {
  const st = (p50: number, ms: number): RttStats => ({ intervalMs: ms, count: 1000, avgUs: p50 * 1.1, p50Us: p50, p99Us: p50 * 2, p999Us: p50 * 5, lost: 0 });
  raw.results.forEach((r, i) => {
    const base = r.path === 'kernel' ? 10 : 50 + 10 * i;
    r.rtt = { '10': st(base * 7, 10), '1': st(base * 1.2, 1), '0.2': st(base, 0.2) };
    r.sockperf = i === 0 ? null : { msgBytes: 64, observations: 90000, avgUs: base, p50Us: base * 0.9, p99Us: base * 3, p999Us: base * 9 };
  });
  return raw;
}

test('issue #14: a row per path and spacing (and sockperf where it ran), each with the time added over kernel vxlan at that spacing', () => {
  const raw = withLatency(madeUp(3, 4));
  const items = latencyItems(raw.results);
  assert.equal(items.length, 4 * 3 + 3, 'sockperf missing on the first path only');
  const k = raw.results.find((r) => r.path === 'kernel')!;
  const other = raw.results.find((r) => r.path !== 'kernel' && r.sockperf !== null)!;
  const fast = items.find((it) => it.path === other.path && it.what === 'ping 0.2 ms')!;
  assert.deepEqual(fast.ref, { p50: k.rtt!['0.2']!.p50Us, p99: k.rtt!['0.2']!.p99Us, p999: k.rtt!['0.2']!.p999Us });
  assert.equal(items.find((it) => it.path === 'kernel' && it.what === 'ping 10 ms')!.ref, undefined, 'kernel is the reference, nothing added');
  const md = latencyTable(raw);
  assert.equal(md.trim().split('\n').length, 2 + items.length);
  const added = other.rtt!['0.2']!.p50Us - k.rtt!['0.2']!.p50Us;
  assert.match(md, new RegExp(`\\| ${other.path} \\| ping 0\\.2 ms \\| ${other.rtt!['0.2']!.p50Us.toFixed(0)} \\(\\+${added.toFixed(0)}\\) \\|`));
  const sp = items.find((it) => it.path === other.path && it.what === 'sockperf pp')!;
  assert.equal(sp.p999, other.sockperf!.p999Us);
  assert.equal(sp.ref!.p50, k.sockperf!.p50Us);
});

test('issue #14: the latency panel draws every row with its p50, p99 and p99.9, labels apart; older runs have no panel and no table', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const raw = withLatency(madeUp(seed, 2 + (seed % 7)));
    const c = chartLayout(raw);
    const lat = marks(c.svg, 'latency');
    assert.equal(lat.length, latencyItems(raw.results).length, `seed ${seed}`);
    assert.deepEqual(overlaps(c.labels), [], `seed ${seed}`);
    assert.deepEqual(outside(c.labels, c.width, c.height), [], `seed ${seed}`);
  }
  const old = madeUp(5, 3);
  assert.equal(marks(chartLayout(old).svg, 'latency').length, 0);
  assert.equal(latencyTable(old), '');
});
