/**
 * Where an exercise looks for what happened: a daemon's counters (`vxtap
 * stats --json` through its control socket, as the learner would read them),
 * its trace file and its log, each read from where it ended when the
 * exercise began, so nothing from before counts.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import type { CountersSnapshot } from '../../switch/counters';
import type { TraceRecord } from '../../switch/trace-record';
import { LabError } from '../errors';
import type { Shell } from '../shell';
import type { HostState } from '../state';
import { renderRecord } from '../trace-view';
import { daemonJson } from '../vxtap';
import type { Evidence } from './types';

/** The part of `vxtap stats --json` the exercises read. */
export interface StatsJson {
  counters: CountersSnapshot;
  tables: { fdb: number; arp: number; peers: number; floodList?: number };
}

export function statsOf(sh: Shell, h: HostState): Promise<StatsJson> {
  return daemonJson<StatsJson>(sh, h.ns, 'stats', h.socket ?? null);
}

/** The file's size now (0 when it does not exist): where "new" begins. */
export function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The whole lines written to `path` since byte `from`. */
export function linesSince(path: string, from: number): string[] {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return [];
  }
  try {
    const size = statSync(path).size;
    if (size <= from) return [];
    const buf = Buffer.alloc(size - from);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    const text = buf.subarray(0, got).toString('utf8');
    return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter((l) => l.length > 0);
  } finally {
    closeSync(fd);
  }
}

/** The trace records (not notices) written since byte `from`. */
export function traceSince(path: string, from: number): TraceRecord[] {
  const out: TraceRecord[] = [];
  for (const l of linesSince(path, from)) {
    try {
      const r = JSON.parse(l) as TraceRecord & { notice?: unknown };
      if (typeof r.notice !== 'string' && typeof r.decision === 'string') out.push(r);
    } catch { /* not a record */ }
  }
  return out;
}

/** The host's trace file; an exercise that needs it fails clearly in a lab started with --no-trace. */
export function traceOf(h: HostState, flags: string): string {
  if (h.trace === null) {
    throw new LabError('VXTAP_ERR_LAB_EXERCISE', `this exercise reads ${h.name}'s trace, and the lab was started with --no-trace: \`npx vxtap lab down${flags}\`, then \`npx vxtap lab up${flags}\` without it`);
  }
  return h.trace;
}

/** A counter's growth between two snapshots (drops by name, or a top-level or l2 counter). */
export function dropsGrew(before: CountersSnapshot, after: CountersSnapshot, name: string): number {
  return (after.drops[name] ?? 0) - (before.drops[name] ?? 0);
}

/**
 * The evidence of a drop exercise: `host`'s counter for `drop` grew since
 * `before`, and its trace has a record of that drop since byte `from` (one
 * that `match` accepts). Null until both are there.
 */
export async function dropEvidence(sh: Shell, host: HostState, drop: string, before: CountersSnapshot, trace: string, from: number,
  match: (r: TraceRecord) => boolean, data: Readonly<Record<string, unknown>>): Promise<Evidence | null> {
  const after = (await statsOf(sh, host)).counters;
  const rec = traceSince(trace, from).find((r) => r.drop === drop && match(r));
  if (dropsGrew(before, after, drop) < 1 || rec === undefined) return null;
  return {
    lines: [
      `${host.name}: ${drop} drops ${before.drops[drop] ?? 0} → ${after.drops[drop] ?? 0}`,
      `${host.name}'s trace:`,
      ...renderRecord(rec, host.name, false).trimEnd().split('\n').map((l) => `  ${l}`),
    ],
    data: { host: host.name, drop, before: before.drops[drop] ?? 0, after: after.drops[drop] ?? 0, ...data, ...(data.from === null ? { from: rec.outer?.src ?? null } : {}) },
  };
}
