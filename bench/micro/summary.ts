/**
 * The figures that answer the goals, as a Markdown table, all ratios of
 * cases measured in the same run (absolute numbers drift on shared machines):
 *
 *   - the per-frame encap decision with tracing off, in ns per frame and
 *     Mpps on one core (goal: >= 10 Mpps); decap validation beside it;
 *   - trace off (decisions recorded, no trace edge) against no hook at all (goal: within 5%): the paired
 *     measurement of hook.bench.ts (median ratio and its 95% interval), with
 *     benny's rounds beside it to show their scatter;
 *   - what tracing on costs: x times the trace-off batch, and the extra time
 *     per frame.
 *
 * Per-frame figures are a batch's mean time / 128. For encap, the baseline
 * (putting back the two ARP requests the responder rewrites) is taken off
 * first.
 */
import * as fs from 'node:fs';
import * as decap from './decap.bench';
import * as encap from './encap.bench';
import * as hook from './hook.bench';
import { find, duration, type Machine, type SavedSuite } from './results';
import { BATCH } from './scene';

export const GOAL_MPPS = 10;
export const GOAL_HOOK_OVERHEAD = 0.05;

function perFrame(batchSeconds: number): string {
  return `${duration(batchSeconds / BATCH)}/frame = **${(BATCH / batchSeconds / 1e6).toFixed(2)} Mpps**`;
}

function pct(x: number): string {
  return `${x >= 0 ? '+' : '−'}${Math.abs(x * 100).toFixed(1)}%`;
}

function met(ok: boolean): string {
  return ok ? 'met' : '**not met**';
}

/** The paired measurement of hook.bench.ts, if it ran. */
function pairedResults(): hook.PairedResults | null {
  return fs.existsSync(hook.PAIRED_FILE) ? (JSON.parse(fs.readFileSync(hook.PAIRED_FILE, 'utf8')) as hook.PairedResults) : null;
}

/** An overhead with its 95% interval `ci` against the goal. */
function withinGoal(x: number, ci: number, goal = GOAL_HOOK_OVERHEAD): string {
  if (x + ci <= goal) return 'met';
  if (x <= goal) return `met, but its interval reaches past ${goal * 100}%`;
  if (x - ci <= goal) return `**not shown**: over ${goal * 100}%, within the interval`;
  return '**not met**';
}

/** The rows of the summary table (figure, measured, goal) for the suites that ran. */
export function figures(suites: Map<string, SavedSuite>): string[][] {
  const rows: string[][] = [];

  const e = suites.get('encap');
  const d = suites.get('decap');
  let eOff = 0;
  let eRestore = 0;
  let dOff = 0;
  if (e) {
    eRestore = find(e, encap.CASES.restore).details.mean;
    eOff = find(e, encap.CASES.off).details.mean - eRestore;
    const mpps = BATCH / eOff / 1e6;
    const dgram = find(e, encap.CASES.offDgram).details.mean - eRestore;
    rows.push(['encap decision, trace off, batch port (UDP header + flow hash)', perFrame(eOff), `≥ ${GOAL_MPPS} Mpps: ${met(mpps >= GOAL_MPPS)}`]);
    rows.push(['encap decision, trace off, dgram port (VXLAN header only)', perFrame(dgram), '']);
  }
  if (d) {
    dOff = find(d, decap.CASES.off).details.mean;
    rows.push(['decap validation, trace off', perFrame(dOff), '']);
  }

  const h = suites.get('hook');
  if (h) {
    const restore = find(h, hook.CASES.encapRestore).details.mean;
    const rounds = (noHook: (r: number) => string, off: (r: number) => string, base: number): number[] =>
      hook.ROUNDS.map((r) => (find(h, off(r)).details.mean - base) / (find(h, noHook(r)).details.mean - base) - 1);
    const benny = {
      encap: rounds(hook.CASES.encapNoHook, hook.CASES.encapOff, restore),
      decap: rounds(hook.CASES.decapNoHook, hook.CASES.decapOff, 0),
    };
    const p = pairedResults();
    for (const what of ['encap', 'decap'] as const) {
      const r = benny[what];
      const scatter = `benny's ${r.length} rounds: ${r.map(pct).join(', ')}`;
      if (p === null) {
        rows.push([`${what}: trace off (decisions recorded) vs no hook at all`, `${scatter} (no paired measurement: run the hook suite)`, '']);
        continue;
      }
      const x = p[what];
      const over = x.median - 1;
      rows.push([
        `${what}: trace off (decisions recorded) vs no hook at all`,
        `**${pct(over)}** ±${(x.ci * 100).toFixed(1)}% (median of ${x.pairs} paired turns; ${scatter})`,
        `within ${GOAL_HOOK_OVERHEAD * 100}%: ${withinGoal(over, x.ci)}`,
      ]);
    }
  }

  const traceOn = (s: SavedSuite, what: string, off: number, base: number, cases: [string, string][]): void => {
    for (const [label, name] of cases) {
      const on = find(s, name).details.mean - base;
      rows.push([`${what} ${label}`, `×${(on / off).toFixed(on / off < 10 ? 2 : 0)} the trace-off batch (+${duration((on - off) / BATCH)}/frame)`, '']);
    }
  };
  if (e) {
    traceOn(e, 'encap trace on:', eOff, eRestore, [
      ['no-op tracer (the trace edge alone)', encap.CASES.noop],
      ['text → null sink', encap.CASES.text],
      ['text, filter matching nothing', encap.CASES.filtered],
    ]);
  }
  if (d) {
    traceOn(d, 'decap trace on:', dOff, 0, [
      ['no-op tracer (the trace edge alone)', decap.CASES.noop],
      ['text → null sink', decap.CASES.text],
      ['text, filter matching nothing', decap.CASES.filtered],
    ]);
  }
  return rows;
}

export function table(header: string[], rows: string[][], align: ('l' | 'r')[]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(align.map((a) => (a === 'r' ? '---:' : '---'))), ...rows.map(line)].join('\n');
}

/** The short table printed at the end of a run. */
export function summaryMarkdown(suites: Map<string, SavedSuite>, m: Machine, date: string): string {
  return [
    `### vxtap microbenchmarks: ${date}, ${m.cores} cores (${m.cpu}), Node ${m.node}, ${m.kernel}`,
    '',
    table(['figure', 'measured', 'goal'], figures(suites), ['l', 'l', 'l']),
  ].join('\n');
}

/** Nanoseconds per op of a case, or '–' when the suite has no such case. */
function ns(s: SavedSuite, name: string): string {
  const c = s.results.find((r) => r.name === name);
  if (c === undefined) return '–';
  const x = c.details.mean * 1e9;
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toPrecision(3);
}

/** Suites 1-3 at a glance, in ns per op: codecs by level, the FDB by size, the ARP responder. */
export function compactMarkdown(suites: Map<string, SavedSuite>): string {
  const out: string[] = [];
  const w = suites.get('wire');
  if (w) {
    const codecs = [...new Set(w.results.map((r) => r.name.split(':')[0]!))];
    const level = (codec: string, prefix: string): string => {
      const c = w.results.find((r) => r.name.startsWith(`${codec}: ${prefix}`));
      return c === undefined ? '–' : ns(w, c.name);
    };
    out.push('Codecs, ns per header:', '', table(['codec', 'hot read', 'hot write', 'checked view', 'parse → Repr', 'emit Repr'],
      codecs.map((c) => [c, level(c, 'hot read'), level(c, 'hot write'), level(c, 'checked view'), level(c, 'parse'), level(c, 'emit')]),
      ['l', 'r', 'r', 'r', 'r', 'r']), '',
    'Hot write is the codec\'s allocation-free writer: emitHeader (Ethernet, UDP), emitEthIpv4 (ARP), emit (VXLAN), ' +
    'fillChecksum (the IPv4 header; ICMP over 64 bytes) and, for TCP, checksumIpv4 over a 1480-byte segment. ' +
    'ICMP\'s hot read verifies the checksum too.', '');
  }
  const f = suites.get('fdb');
  if (f) {
    const sizes = ['10', '1,000', '100,000'];
    out.push(`FDB lookup, ns (the key rotation alone: ${ns(f, 'baseline: key rotation, no lookup')} ns):`, '', table(['entries', 'hit', 'miss'],
      sizes.map((n) => [n, ns(f, `${n} entries: hit`), ns(f, `${n} entries: miss`)]), ['r', 'r', 'r']), '');
  }
  const a = suites.get('arp');
  if (a) {
    out.push('ARP responder, ns per frame:', '', table(['case', 'ns'], a.results.map((r) => [r.name, ns(a, r.name)]), ['l', 'r']), '');
  }
  return out.join('\n');
}

/** Every case of every suite: ops/s, margin, time per op. */
export function allCasesMarkdown(suites: Map<string, SavedSuite>): string {
  const out: string[] = [];
  for (const s of suites.values()) {
    out.push(`#### ${s.name}`, '');
    out.push(table(['case', 'ops/s', '±', 'per op', 'samples'], s.results.map((c) => [
      c.name, Math.round(c.ops).toLocaleString('en-US'), `${c.margin.toFixed(2)}%`, duration(c.details.mean), String(c.samples),
    ]), ['l', 'r', 'r', 'r', 'r']), '');
  }
  return out.join('\n');
}
