/**
 * A vxtap daemon under test, in a Lab namespace: started with JSON logs,
 * its log lines collected, its counters read through SIGUSR1 (which makes the
 * daemon log a "stats" line).
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Lab } from './netns';
import { waitFor } from './netns';

export const REPO = join(__dirname, '..', '..', '..');
export const VXTAP = join(REPO, 'bin', 'vxtap.js');
export const TOOLS = join(REPO, 'dist', 'test', 'tools');

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

export class Daemon {
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  /** With --trace: what the daemon wrote on stdout (the trace); its logs are then on stderr. */
  out = '';
  private readonly child: ChildProcess;
  exitCode: number | null = null;

  /**
   * opts.prefix: a command the daemon runs under, e.g. `setpriv --bounding-set=-net_raw` (a capability taken away);
   * opts.env: variables added to the daemon's environment.
   */
  constructor(lab: Lab, readonly host: string, args: string[], opts: { prefix?: string[]; env?: Record<string, string> } = {}) {
    this.child = lab.spawn(host, [...(opts.prefix ?? []), process.execPath, VXTAP, 'run', '--log-format', 'json', ...args],
      opts.env === undefined ? {} : { env: { ...process.env, ...opts.env } });
    const traced = args.includes('--trace');
    const logs = traced ? this.child.stderr! : this.child.stdout!;
    const other = traced ? this.child.stdout! : this.child.stderr!;
    let buf = '';
    logs.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try { this.lines.push(JSON.parse(line) as LogLine); } catch { this.stderr.push(`(log) ${line}`); }
      }
    });
    other.on('data', (d: Buffer) => { if (traced) this.out += d.toString(); else this.stderr.push(d.toString()); });
    this.child.once('exit', (code, sig) => { this.exitCode = code ?? (sig ? 128 : -1); });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Waits for a log line whose msg matches; fails early (with the logs) if the daemon exits. */
  async waitLog(re: RegExp, timeoutMs = 15000, from = 0): Promise<LogLine> {
    let found: LogLine | undefined;
    await waitFor(`${this.host}: log line ${re}`, () => {
      if (this.exitCode !== null) throw new Error(`vxtap on ${this.host} exited with ${this.exitCode}:\n${this.dump()}`);
      found = this.lines.slice(from).find((l) => re.test(l.msg));
      return found !== undefined;
    }, timeoutMs, 50);
    return found!;
  }

  async up(): Promise<this> {
    await this.waitLog(/^vxtap is up/);
    return this;
  }

  /** The daemon's counters, as its SIGUSR1 "stats" log line gives them. */
  async stats(): Promise<{ drops: Record<string, number>; [k: string]: unknown }> {
    const from = this.lines.length;
    this.child.kill('SIGUSR1');
    const line = await this.waitLog(/^stats: /, 5000, from);
    return line['stats'] as { drops: Record<string, number> };
  }

  /** SIGTERM (or `signal`), then the exit code. */
  async stop(timeoutMs = 10000, signal: NodeJS.Signals = 'SIGTERM'): Promise<number> {
    if (this.exitCode !== null) return this.exitCode;
    this.child.kill(signal);
    await waitFor(`${this.host}: vxtap exit`, () => this.exitCode !== null, timeoutMs, 50);
    return this.exitCode!;
  }

  dump(): string {
    return [...this.lines.map((l) => JSON.stringify(l)), ...this.stderr].join('\n');
  }
}
