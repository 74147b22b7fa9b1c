/**
 * Regenerates a document from a real run: reads a template (docs/src/*.md),
 * runs the commands its markers name, in order, and writes the document with
 * each marked block holding what the command really printed. No output in
 * the generated documents is typed by hand; the template holds the prose.
 *
 *   sudo node dist/scripts/gen-docs.js docs/src/walkthrough.md docs/walkthrough.md
 *
 * Markers (HTML comments, one per line; invisible when the page renders):
 *
 *   <!-- do: CMD -->        run CMD (through bash, from the repository's root);
 *                           nothing is written; a failure stops the run.
 *   <!-- $ CMD -->          run CMD; the fenced block that follows is replaced
 *                           by "$ CMD" and its output (stdout, then stderr).
 *   <!-- out: CMD -->       the same, without the "$ CMD" line.
 *   <!-- trace: HOST match=RE [n=K] [lines=RE] -->
 *                           the fenced block that follows gets the first K
 *                           records (default 1) of HOST's lab trace that match
 *                           RE (a record is a frame: a line starting "HOST #"
 *                           and the lines below it); with lines=RE only the
 *                           record's first line and the lines matching RE are
 *                           kept, and the block says so. Trace records already
 *                           used are not picked again, so consecutive markers
 *                           walk forward through the trace (a `do:` that runs
 *                           `lab up` or `lab down` starts over: new lab, new traces).
 *   <!-- finally: CMD -->   run CMD at the end, also after a failure (lab down).
 *
 * {{h1.subnet}}, {{h2.containerIp}}, {{k1.ip}}, {{h1.vtepMac}}, {{h1.ns}} ...
 * anywhere (prose and commands) are the lab's values from its lab.json
 * (re-read after every command, so values survive a later `lab down`);
 * {{lab.prefix}} and {{date}} too. An unknown name is an error, not an empty
 * string. Values are substituted where they stand, in document order: a
 * command or a line of prose gets the values of the lab running at that
 * point (a document may take down one lab and build another).
 *
 *   <!-- template: ... -->  a note for the template's editors (may span lines):
 *                           left out of the document.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export type Marker =
  | { kind: 'do' | 'finally'; cmd: string }
  | { kind: '$' | 'out'; cmd: string }
  | { kind: 'trace'; host: string; match: string; n: number; lines: string | null };

const MARKER = /^<!--\s*(do:|finally:|\$|out:|trace:)\s*(.*?)\s*-->\s*$/;

/** One marker line, or null for an ordinary line. Throws on a malformed marker. */
export function parseMarker(line: string): Marker | null {
  const m = MARKER.exec(line);
  if (m === null) return null;
  const tag = m[1] ?? '';
  const rest = m[2] ?? '';
  if (rest === '') throw new Error(`marker with nothing after ${tag}: ${line}`);
  switch (tag) {
    case 'do:': return { kind: 'do', cmd: rest };
    case 'finally:': return { kind: 'finally', cmd: rest };
    case '$': return { kind: '$', cmd: rest };
    case 'out:': return { kind: 'out', cmd: rest };
    default: return parseTraceMarker(rest, line);
  }
}

function parseTraceMarker(rest: string, line: string): Marker {
  // HOST then key=value pairs; a value may be quoted with "..." to hold spaces.
  const host = rest.split(/\s+/)[0] ?? '';
  const opts = new Map<string, string>();
  const re = /(\w+)=("([^"]*)"|\S+)/g;
  for (let m = re.exec(rest); m !== null; m = re.exec(rest)) opts.set(m[1] ?? '', m[3] ?? m[2] ?? '');
  const match = opts.get('match');
  if (host === '' || match === undefined) throw new Error(`trace marker needs a host and match=RE: ${line}`);
  const n = Number(opts.get('n') ?? '1');
  if (!Number.isInteger(n) || n < 1) throw new Error(`trace marker: n must be a positive integer: ${line}`);
  // The patterns are compiled when the marker runs, after {{values}} are substituted.
  return { kind: 'trace', host, match, n, lines: opts.get('lines') ?? null };
}

/** Splits a text trace into records: each starts at a line "HOST #N". */
export function traceRecords(text: string, host: string): string[][] {
  const out: string[][] = [];
  const start = new RegExp(`^${host} #\\d+ `);
  for (const line of text.split('\n')) {
    if (start.test(line)) out.push([line]);
    else if (out.length > 0 && line.startsWith(' ')) out[out.length - 1]?.push(line);
  }
  return out;
}

export type Vars = Record<string, string>;

/** Replaces {{name}}; an unknown name throws (a document must not print an empty value). */
export function substitute(text: string, vars: Vars): string {
  return text.replace(/\{\{([\w.]+)\}\}/g, (_, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`unknown value {{${name}}} (known: ${Object.keys(vars).sort().join(', ') || 'none yet'})`);
    return v;
  });
}

/** The lab's values from lab.json, flattened to host.field names. */
export function labVars(state: unknown): Vars {
  const vars: Vars = {};
  if (typeof state !== 'object' || state === null) return vars;
  const s = state as { prefix?: unknown; hosts?: unknown };
  for (const [k, v] of Object.entries(s)) if (typeof v === 'string') vars[`lab.${k}`] = v;
  if (!Array.isArray(s.hosts)) return vars;
  for (const h of s.hosts as Array<Record<string, unknown>>) {
    const name = h.name;
    if (typeof name !== 'string') continue;
    for (const [k, v] of Object.entries(h)) {
      if (typeof v === 'string' || typeof v === 'number') vars[`${name}.${k}`] = String(v);
    }
    // A subnet's network address without the length: the flannel gateway ('10.44.26.0').
    if (typeof h.subnet === 'string') {
      const base = h.subnet.split('/')[0] ?? '';
      vars[`${name}.gw`] = base;
      // The container bridge's address: the subnet's first host (lab/plan.ts containerAddrs).
      vars[`${name}.cbr`] = base.replace(/\.\d+$/, (o) => `.${Number(o.slice(1)) + 1}`);
    }
  }
  const etcd = (state as { etcd?: unknown }).etcd;
  if (typeof etcd === 'object' && etcd !== null) {
    for (const [k, v] of Object.entries(etcd)) if (typeof v === 'string') vars[`etcd.${k}`] = v;
  }
  return vars;
}

export interface Runner {
  /** Runs a command; returns its output and whether it succeeded. */
  run(cmd: string): { out: string; ok: boolean };
  /** The lab's state now, or null when there is no lab. */
  labState(): unknown;
}

/** Processes a template with a runner: the generated document. */
export function generate(template: string, runner: Runner, date: string): string {
  const lines = template.split('\n');
  const out: string[] = [];
  const finals: string[] = [];
  let vars: Vars = { date };
  const used = new Map<string, number>(); // host -> trace records already picked
  const refresh = (): void => { vars = { ...vars, ...labVars(runner.labState()) }; };
  const exec = (cmd: string): string => {
    // The generator runs as root already; a document's `sudo` is for the reader.
    const c = substitute(cmd, vars).replace(/^sudo /, '');
    const r = runner.run(c);
    refresh();
    if (!r.ok) throw new Error(`command failed: ${c}\n${r.out}`);
    return r.out.replace(/\s+$/, '');
  };
  for (const l of lines) { const m = parseMarker(l); if (m?.kind === 'finally') finals.push(m.cmd); }
  try {
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] ?? '';
      if (line.startsWith('<!-- template:')) {
        // A note for the template's editors: not part of the document.
        while (i < lines.length && !(lines[i] ?? '').trimEnd().endsWith('-->')) i++;
        continue;
      }
      const m = parseMarker(line);
      // Prose takes the values of the lab running at this point of the document.
      if (m === null) { out.push(substitute(line, vars)); continue; }
      if (m.kind === 'finally') continue;
      if (m.kind === 'do') {
        exec(m.cmd);
        // A new lab starts new traces: trace markers start from its first record again.
        if (/\blab (up|down)\b/.test(m.cmd)) used.clear();
        continue;
      }
      // The fenced block that follows is replaced.
      const open = lines[i + 1] ?? '';
      if (!open.startsWith('```')) throw new Error(`line ${i + 2}: a ${m.kind} marker must be followed by a fenced block`);
      let close = i + 2;
      while (close < lines.length && !(lines[close] ?? '').startsWith('```')) close++;
      if (close >= lines.length) throw new Error(`line ${i + 2}: the fenced block is not closed`);
      let body: string;
      if (m.kind === 'trace') {
        body = pickTrace(m, exec, used, (re) => new RegExp(substitute(re, vars)));
      } else {
        const text = exec(m.cmd);
        body = m.kind === '$' ? `$ ${substitute(m.cmd, vars).replace(/^sudo /, '')}\n${text}` : text;
      }
      out.push(open, body, '```');
      i = close;
    }
  } finally {
    for (const cmd of finals) {
      try { runner.run(substitute(cmd, vars)); } catch { /* best effort: the clean-up must not hide the first error */ }
    }
  }
  return out.join('\n');
}

function pickTrace(m: Extract<Marker, { kind: 'trace' }>, exec: (cmd: string) => string, used: Map<string, number>, compile: (re: string) => RegExp): string {
  const match = compile(m.match);
  const lines = m.lines === null ? null : compile(m.lines);
  const text = exec(`npx vxtap lab trace ${m.host} --no-follow -n 100000`);
  const records = traceRecords(text, m.host);
  const from = used.get(m.host) ?? 0;
  const picked: string[][] = [];
  let last = from;
  for (let k = from; k < records.length && picked.length < m.n; k++) {
    const r = records[k] ?? [];
    if (match.test(r.join('\n'))) { picked.push(r); last = k + 1; }
  }
  if (picked.length < m.n) throw new Error(`trace ${m.host}: ${picked.length} of ${m.n} records match ${match} after record ${from}`);
  used.set(m.host, last);
  const body = picked.map((r) => (lines === null ? r : [r[0] ?? '', ...r.slice(1).filter((l) => lines.test(l))]).join('\n')).join('\n');
  return lines === null ? body : `${body}\n  (lines picked from the trace; the whole record has more)`;
}

function main(): void {
  const [tpl, dst] = process.argv.slice(2);
  if (tpl === undefined || dst === undefined) {
    process.stderr.write('usage: node dist/scripts/gen-docs.js TEMPLATE OUTPUT   (as root: it runs the lab)\n');
    process.exit(2);
  }
  const root = resolve(__dirname, '..', '..');
  const stateFile = join(process.env.VXTAP_LAB_STATE_DIR ?? '/run/vxtap-lab', 'lab.json');
  const env = { ...process.env, PATH: `${join(root, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`, NO_COLOR: '1' };
  const runner: Runner = {
    run(cmd) {
      process.stderr.write(`gen-docs: ${cmd}\n`);
      const r = spawnSync('bash', ['-c', cmd], { cwd: root, env, encoding: 'utf8', timeout: 180_000 });
      return { out: `${r.stdout ?? ''}${r.stderr ?? ''}`, ok: r.status === 0 };
    },
    labState() {
      if (!existsSync(stateFile)) return null;
      try { return JSON.parse(readFileSync(stateFile, 'utf8')) as unknown; } catch { return null; }
    },
  };
  const date = new Date().toISOString().slice(0, 10);
  writeFileSync(dst, generate(readFileSync(tpl, 'utf8'), runner, date));
  process.stderr.write(`gen-docs: wrote ${dst}\n`);
}

if (require.main === module) main();
