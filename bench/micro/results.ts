/**
 * Reading back what the suites saved (benny's JSON, with details), and the
 * machine the run was on.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RESULTS_DIR } from './common';

/** The part of benny's saved JSON we read. */
export interface SavedCase {
  name: string;
  /** Operations per second: 1 / details.mean. */
  ops: number;
  /** Relative margin of error of the mean at 95%, in percent. */
  margin: number;
  samples: number;
  /** Seconds per operation. */
  details: { mean: number; median: number };
}

export interface SavedSuite {
  /** The file's name: wire, fdb, ... */
  id: string;
  /** benny's suite title. */
  name: string;
  date: string;
  results: SavedCase[];
}

export function load(id: string): SavedSuite | null {
  const file = path.join(RESULTS_DIR, `${id}.json`);
  if (!fs.existsSync(file)) return null;
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as Omit<SavedSuite, 'id'>;
  return { id, ...j };
}

/** The named case of a suite; throws if it is not there (a renamed case must not pass silently). */
export function find(s: SavedSuite, name: string): SavedCase {
  const c = s.results.find((r) => r.name === name);
  if (!c) throw new Error(`${s.id}.json has no case ${JSON.stringify(name)}: run that suite again`);
  return c;
}

export interface Machine {
  cores: number;
  cpu: string;
  node: string;
  kernel: string;
}

export function machine(): Machine {
  const cpus = os.cpus();
  return { cores: cpus.length, cpu: cpus[0]?.model.trim() ?? 'unknown', node: process.version, kernel: `${os.type()} ${os.release()}` };
}

/** 47.1M, 3.25k, 812: a count for a label. */
export function si(n: number): string {
  const units: [number, string][] = [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
  for (const [v, u] of units) if (n >= v) return `${(n / v).toPrecision(3)}${u}`;
  return n.toPrecision(3);
}

/** A duration in seconds as ns, µs or ms, three significant digits. */
export function duration(s: number): string {
  if (s < 1e-6) return `${(s * 1e9).toPrecision(3)} ns`;
  if (s < 1e-3) return `${(s * 1e6).toPrecision(3)} µs`;
  return `${(s * 1e3).toPrecision(3)} ms`;
}
