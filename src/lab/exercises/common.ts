/** Small pieces the exercises share: commands in a namespace, the lab's hosts, spare addresses. */
import { randomBytes } from 'node:crypto';
import { formatIpv4, parseCidr } from '../../wire/addr';
import { LabError } from '../errors';
import { VXTAP_BIN } from '../procs';
import type { Shell } from '../shell';
import type { HostState, LabState } from '../state';
import type { LearnerStep } from './types';
import { vxtapHosts } from './types';

/** A command in a namespace: shown with sudo, run by --auto as `ip netns exec`. */
export function nsStep(ns: string, args: readonly string[], why: string): LearnerStep {
  return { show: `sudo ip netns exec ${ns} ${args.join(' ')}`, why, argv: ['ip', 'netns', 'exec', ns, ...args] };
}

/** A step only to watch: shown, never run by --auto. */
export function watchStep(show: string, why: string): LearnerStep {
  return { show, why, argv: null };
}

/** `vxtap stats` (or fdb, arp) against a host's daemon, as the learner types it. */
export function daemonCmd(h: HostState, cmd: 'stats' | 'fdb' | 'arp'): string {
  return `sudo ip netns exec ${h.ns} npx vxtap ${cmd}${h.socket !== undefined && h.socket !== null ? ` --control-socket ${h.socket}` : ''}`;
}

/** The same, as argv (the checkout's bin, for --auto). */
export function daemonArgv(h: HostState, cmd: 'stats' | 'fdb' | 'arp'): string[] {
  return ['ip', 'netns', 'exec', h.ns, process.execPath, VXTAP_BIN, cmd, ...(h.socket !== undefined && h.socket !== null ? ['--control-socket', h.socket] : [])];
}

/** The first `n` vxtap hosts, with a container each; fails clearly in a smaller lab. */
export function needHosts(st: LabState, n: number, exercise: string, flags: string): HostState[] {
  const hs = vxtapHosts(st).filter((h) => h.containerIp !== null);
  if (hs.length < n) {
    throw new LabError('VXTAP_ERR_LAB_EXERCISE', `exercise ${exercise} needs ${n} vxtap hosts with a container, and this lab has ${hs.length}; \`npx vxtap lab down${flags}\`, then \`npx vxtap lab up --hosts ${Math.max(n, 2)}${flags}\``);
  }
  return hs.slice(0, n);
}

/** The underlay address at `offset` (the lab uses .1-.20, .101 and .250; exercises take .200). */
export function underlayAt(st: LabState, offset: number): { ip: string; len: number } {
  const u = parseCidr(st.options.underlay);
  return { ip: formatIpv4((u.addr + offset) >>> 0), len: u.len };
}

/**
 * L2 mode: an address on the one subnet that no container has and no VTEP
 * has seen (absent from every given ARP table), from .150 up: a station
 * nobody knows yet. Random, so a second run within the ageing time does not
 * meet the first one's entries.
 */
export function spareL2Ip(st: LabState, known: ReadonlySet<string>): { ip: string; len: number } {
  const net = parseCidr(st.options.network);
  const used = new Set([...known, ...st.hosts.map((h) => h.containerIp).filter((x): x is string => x !== null)]);
  const size = 2 ** (32 - net.len);
  const free: string[] = [];
  for (let off = 150; off < Math.min(size - 1, 250); off++) {
    const ip = formatIpv4((net.addr + off) >>> 0);
    if (!used.has(ip)) free.push(ip);
  }
  if (free.length === 0) throw new LabError('VXTAP_ERR_LAB_EXERCISE', `no spare address in ${st.options.network} from .150 to .249`);
  return { ip: free[randomBytes(2).readUInt16BE(0) % free.length]!, len: net.len };
}

/** A locally administered MAC, random: 02:ee:xx:xx:xx:xx. */
export function randomMac(): string {
  return ['02', 'ee', ...[...randomBytes(4)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** The MTU of a device in a namespace. */
export function mtuOf(sh: Shell, ns: string, dev: string): number {
  const links = JSON.parse(sh.run('ip', ['-n', ns, '-j', 'link', 'show', dev], { quiet: true })) as { mtu?: number }[];
  const m = links[0]?.mtu;
  if (m === undefined) throw new LabError('VXTAP_ERR_LAB_CMD', `no MTU for ${dev} in ${ns}`);
  return m;
}

/** A test range for the exercises' own stray devices (RFC 2544's benchmark block), never the overlay's. */
export const STRAY_NET = { local: '198.18.0.2/24', remote: '198.18.0.1' };
