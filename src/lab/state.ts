/**
 * The lab's state file, `<state dir>/lab.json`: what `lab up` made, written
 * as it goes (so a half-finished `up` leaves a record), read by `status`,
 * `ping`, `trace` and `down`. `down` does not depend on it: it finds
 * namespaces by the prefix; the file adds the pids and the paths.
 *
 * The state dir holds nothing else than the lab's own files (state, logs,
 * traces, subnet files, etcd's data), so `down` removes it whole; it refuses
 * a directory that has no lab.json in it and is not empty.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../errors';
import type { HostKind, LabScope, LabUpOptions } from './plan';
import { LabError } from './errors';

export const STATE_FILE = 'lab.json';

export interface HostState {
  name: string;
  kind: HostKind;
  ns: string;
  containerNs: string;
  /** Underlay address: the host's public IP. */
  ip: string;
  /** The leased subnet, '10.44.7.0/24', once known. */
  subnet: string | null;
  /** The container's address ('10.44.7.2'), once it exists. */
  containerIp: string | null;
  /** L2 mode: the container's MAC, chosen by the lab (absent in routed mode, where the kernel picks one). */
  containerMac?: string | null;
  vtepMac: string | null;
  /** The vxtap daemon (vxtap hosts). */
  pid: number | null;
  log: string | null;
  trace: string | null;
  subnetFile: string | null;
  /** L2 mode: the daemon's control socket, in the state dir (routed mode: the default path). */
  socket?: string | null;
}

export interface LabState {
  version: 1;
  /** 'building' until `up` has finished; a crashed `up` leaves 'building'. */
  phase: 'building' | 'up';
  prefix: string;
  stateDir: string;
  createdAt: string;
  options: LabUpOptions;
  underlayNs: string;
  tap: string;
  vxlanDev: string;
  etcd: { ns: string; ip: string; endpoint: string; pid: number | null; dataDir: string; log: string };
  hosts: HostState[];
}

/** Resolves `--state-dir`; refuses '/' and relative surprises. */
export function checkStateDir(dir: string): string {
  const abs = isAbsolute(dir) ? resolve(dir) : resolve(process.cwd(), dir);
  if (abs === '/' || abs.split('/').filter(Boolean).length < 2) {
    throw new ConfigError(`--state-dir: ${abs} is too close to the root; the lab removes its state dir whole on \`lab down\`: pick a directory of its own, e.g. /run/vxtap-lab`, 'state-dir');
  }
  return abs;
}

export function statePath(scope: LabScope): string {
  return join(scope.stateDir, STATE_FILE);
}

export function readState(scope: LabScope): LabState | null {
  let text: string;
  try {
    text = readFileSync(statePath(scope), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    return JSON.parse(text) as LabState;
  } catch {
    return null; // a torn or foreign file: `down` still works by prefix
  }
}

/** The state, or a LabError telling how to start a lab. */
export function requireState(scope: LabScope, scopeHint: string): LabState {
  const s = readState(scope);
  if (s === null) throw new LabError('VXTAP_ERR_LAB_NONE', `no lab is up here (no ${statePath(scope)}): start one with \`npx vxtap lab up${scopeHint}\``);
  return s;
}

/** Writes the state atomically (temp file + rename). */
export function writeState(s: LabState): void {
  const path = join(s.stateDir, STATE_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n');
  renameSync(tmp, path);
}

/** Makes the state dir for a new lab: it must be absent, empty, or a lab's (checked by the caller first). */
export function makeStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const entries = readdirSync(dir);
  if (!isLabDir(entries)) {
    throw new LabError('VXTAP_ERR_LAB_STATE_DIR', `the state dir ${dir} is not empty and is not a lab's (no ${STATE_FILE}); pick another with --state-dir`);
  }
}

/** Removes the state dir if it is a lab's (has lab.json) or empty. Returns what happened, for the report. */
export function removeStateDir(dir: string): 'removed' | 'absent' | 'foreign' {
  if (!existsSync(dir)) return 'absent';
  const entries = readdirSync(dir);
  if (!isLabDir(entries)) return 'foreign';
  rmSync(dir, { recursive: true, force: true });
  return 'removed';
}

/** Empty, or holding a state file (or the temp file of its first write). */
function isLabDir(entries: readonly string[]): boolean {
  return entries.length === 0 || entries.some((e) => e.startsWith(STATE_FILE));
}
