/**
 * `vxtap lab ping`: every container pings every other container (all pairs
 * at once, a few pings each), and the result is a matrix. Any pair without a
 * reply makes the command fail, naming the pairs and where to look.
 */
import { LabError } from './errors';
import type { Say } from './say';
import type { Shell } from './shell';
import type { HostState, LabState } from './state';
import { scopeFlags } from './plan';

export interface PingResult {
  from: string;
  to: string;
  toIp: string;
  sent: number;
  received: number;
  /** Average round trip in ms, null without a reply. */
  avgMs: number | null;
  ok: boolean;
}

const COUNT = 3;

async function pingPair(sh: Shell, from: HostState, to: HostState): Promise<PingResult> {
  const toIp = to.containerIp!;
  const r = await sh.runAsync('ip', ['netns', 'exec', from.containerNs, 'ping', '-n', '-q', '-c', String(COUNT), '-i', '0.2', '-W', '2', toIp], 20_000);
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(r.stdout);
  const received = m ? Number(m[2]) : 0;
  return {
    from: from.name, to: to.name, toIp,
    sent: m ? Number(m[1]) : COUNT, received,
    avgMs: rtt ? Number(rtt[1]) : null,
    ok: received > 0,
  };
}

export async function labPing(st: LabState, sh: Shell, say: Say, out: NodeJS.WritableStream, json: boolean): Promise<PingResult[]> {
  const hosts = st.hosts.filter((h) => h.containerIp !== null);
  if (hosts.length < 2) {
    throw new LabError('VXTAP_ERR_LAB_NONE', `fewer than two containers in the lab, so nothing to ping (a lab of one host, or an unfinished \`lab up\`: state ${st.phase}); \`npx vxtap lab status${scopeFlags({ prefix: st.prefix, stateDir: st.stateDir })}\` tells more`);
  }
  const pairs: [HostState, HostState][] = [];
  for (const a of hosts) for (const b of hosts) if (a !== b) pairs.push([a, b]);
  const results = await Promise.all(pairs.map(([a, b]) => pingPair(sh, a, b)));
  const bad = results.filter((r) => !r.ok);
  if (json) {
    out.write(JSON.stringify({ ok: bad.length === 0, results }, null, 2) + '\n');
  } else {
    out.write(renderMatrix(hosts, results, say));
    out.write(`\n${bad.length === 0 ? say.green(`all ${results.length} pairs reachable`) : say.red(`${bad.length} of ${results.length} pairs unreachable`)} (${COUNT} pings each; cells show the average round trip)\n`);
  }
  if (bad.length > 0) {
    const first = bad[0]!;
    throw new LabError('VXTAP_ERR_LAB_UNREACHABLE', `unreachable: ${bad.map((r) => `${r.from} → ${r.to}`).join(', ')}; look at \`npx vxtap lab status\`, and \`npx vxtap lab trace ${st.hosts.find((h) => h.name === first.from && h.kind === 'vxtap') ? first.from : first.to}\` while pinging`);
  }
  return results;
}

function renderMatrix(hosts: readonly HostState[], results: readonly PingResult[], say: Say): string {
  const label = (h: HostState): string => `${h.name} ${h.containerIp}`;
  const cell = (a: HostState, b: HostState): string => {
    if (a === b) return '·';
    const r = results.find((x) => x.from === a.name && x.to === b.name)!;
    if (!r.ok) return 'FAIL';
    const loss = r.received < r.sent ? ` (${r.received}/${r.sent})` : '';
    return `${r.avgMs === null ? 'ok' : `${r.avgMs.toFixed(3)} ms`}${loss}`;
  };
  const header = ['from \\ to', ...hosts.map(label)];
  const rows = hosts.map((a) => [label(a), ...hosts.map((b) => cell(a, b))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (cells: string[], paint: boolean): string => cells.map((c, i) => {
    const padded = c.padEnd(widths[i]!);
    if (!paint || i === 0) return padded;
    return c === 'FAIL' ? say.red(padded) : c === '·' ? padded : say.green(padded);
  }).join('  ').trimEnd();
  return `ping from each container (rows) to each other container (columns):\n\n${fmt(header, false)}\n${rows.map((r) => fmt(r, true)).join('\n')}\n`;
}
