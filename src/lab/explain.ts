/**
 * `vxtap lab explain HOST ...`: `vxtap explain` for one lab host, run inside
 * the host's namespace (so the kernel's part, `ip route get`, asks that
 * host's kernel) against its daemon's control socket.
 */
import { spawnSync } from 'node:child_process';
import type { ExplainFlags } from '../cli/explain-cmd';
import { ConfigError } from '../errors';
import { LabError } from './errors';
import { VXTAP_BIN } from './procs';
import type { LabState } from './state';

/** The `vxtap explain` arguments of these flags (all but the socket, which the lab knows). */
export function explainArgs(f: ExplainFlags): string[] {
  const a: string[] = [];
  if (f.fromTap !== undefined) a.push('--from-tap', f.fromTap);
  if (f.fromNet !== undefined) a.push('--from-net', f.fromNet);
  if (f.hex !== undefined) a.push('--hex', f.hex);
  if (f.pcap !== undefined) a.push('--pcap', f.pcap, '--index', String(f.index ?? 0));
  if (f.side !== undefined) a.push('--side', f.side);
  if (f.from !== undefined) a.push('--from', f.from);
  if (f.json === true) a.push('--json');
  return a;
}

/** Runs `vxtap explain` in HOST's namespace, output to ours; returns its exit status. */
export function labExplain(st: LabState, host: string, f: ExplainFlags): number {
  // The lab picks the host's daemon (its socket, in its namespace): a flag that picks another would be ignored.
  if (f.tap !== undefined) throw new ConfigError('lab explain takes no --tap: it asks the daemon of HOST (drop --tap, or use `vxtap explain --tap` in that namespace)', 'tap');
  if (f.controlSocket !== undefined) throw new ConfigError('lab explain takes no --control-socket: it asks the daemon of HOST (drop --control-socket, or use `vxtap explain --control-socket`)', 'control-socket');
  const h = st.hosts.find((x) => x.name === host || x.ns === host);
  if (h === undefined) throw new LabError('VXTAP_ERR_LAB_HOST', `no host ${JSON.stringify(host)} in the lab; its hosts: ${st.hosts.map((x) => x.name).join(', ')}`);
  if (h.kind === 'kernel') throw new LabError('VXTAP_ERR_LAB_HOST', `${h.name} runs the kernel's vxlan device, not vxtap: there is no daemon to ask`);
  const socket = h.socket ?? null;
  const args = ['netns', 'exec', h.ns, process.execPath, VXTAP_BIN, 'explain', ...explainArgs(f), ...(socket !== null ? ['--control-socket', socket] : [])];
  const r = spawnSync('ip', args, { stdio: 'inherit' });
  if (r.error !== undefined) throw new LabError('VXTAP_ERR_LAB_CMD', `ip netns exec ${h.ns} vxtap explain: ${r.error.message}`);
  return r.status ?? 1;
}
