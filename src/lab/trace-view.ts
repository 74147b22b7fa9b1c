/**
 * `vxtap lab trace HOST`: follows one daemon's trace file (the daemons run
 * with `--trace --trace-format json`, a frame a line) like `tail -f`, and
 * prints each frame as text: its layers, the table lookups, the decision.
 * `--filter` takes `vxtap run --trace-filter`'s syntax; `--json` passes the
 * records through as they are.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { parseTraceFilter, type TraceFilter } from '../switch/trace-filter';
import { subjectOf, type TraceRecord } from '../switch/trace-record';
import { renderNotice, renderText } from '../switch/trace-render';
import { parseIpv4 } from '../wire/addr';
import { wrapPayload } from '../wire/underlay';
import * as ethernet from '../wire/ethernet';
import { LabError } from './errors';
import { scopeFlags } from './plan';
import { sleep } from './procs';
import type { LabState } from './state';

/**
 * Printed (on stderr) before an L2 lab's trace: what the L2 lookup lines
 * mean. The lines themselves are the data plane's (switch/trace-record.ts),
 * rendered here as `vxtap run --trace` renders them.
 */
export const L2_TRACE_LEGEND = [
  'L2 mode: the lookup lines to look for',
  '  learned M behind V             a frame from VTEP V had source MAC M: frames to M now go to V alone',
  '  flooded to N VTEPs (head-end   a broadcast (ARP request), multicast or unknown unicast: one copy',
  '    replication)                 per VTEP on the flood list',
  '  ARP suppressed from the table  an ARP request for an address vxtap has seen: answered here, not flooded',
  '  split horizon: not flooded     a frame from a VTEP goes to the bridge only, never on to other VTEPs',
  '    back',
  '',
].join('\n');

export interface TraceViewOptions {
  filter: string | null;
  json: boolean;
  /** Frames to show from before now (like tail -n). */
  lines: number;
  follow: boolean;
  color: boolean;
}

/**
 * One record as text, the way `vxtap run --trace` prints it (one renderer,
 * switch/trace-render.ts), after the host's name. A record has its bytes only
 * when it failed to decode (`hex`): then each layer gets its hex dump.
 */
export function renderRecord(rec: TraceRecord, host: string, color: boolean): string {
  const dump = rec.hex !== null ? bytesOf(rec) ?? null : null;
  return renderText(rec, { color, host, dump });
}

/** The bytes the layers' offsets refer to (network frames: with the rebuilt outer IPv4 + UDP). */
function bytesOf(rec: TraceRecord): Buffer | undefined {
  const raw = Buffer.from(rec.hex ?? '', 'hex');
  if (rec.outer === null) return raw;
  try {
    const wire = wrapPayload(raw, { srcIp: parseIpv4(rec.outer.src), srcPort: rec.outer.srcPort, dstIp: parseIpv4(rec.outer.dst), dstPort: rec.outer.dstPort });
    return wire.subarray(ethernet.HEADER_LEN);
  } catch {
    return undefined;
  }
}

/** Resolves HOST (h1, or its namespace name) to the host's trace file. */
export function traceFileOf(st: LabState, host: string): { name: string; path: string } {
  const h = st.hosts.find((x) => x.name === host || x.ns === host);
  const hint = scopeFlags({ prefix: st.prefix, stateDir: st.stateDir });
  if (h === undefined) {
    throw new LabError('VXTAP_ERR_LAB_HOST', `no host ${JSON.stringify(host)} in the lab; its hosts: ${st.hosts.map((x) => x.name).join(', ')}`);
  }
  if (h.kind === 'kernel') {
    throw new LabError('VXTAP_ERR_LAB_HOST', `${h.name} runs the kernel's vxlan device, not vxtap: it has no trace. Watch its underlay instead: ip netns exec ${h.ns} tcpdump -ni eth0 udp port ${st.options.port}`);
  }
  if (h.trace === null) {
    throw new LabError('VXTAP_ERR_LAB_HOST', `the lab was started without tracing (--no-trace); \`npx vxtap lab down${hint}\` and \`npx vxtap lab up${hint}\` to get traces`);
  }
  return { name: h.name, path: h.trace };
}

/**
 * Prints the last `lines` frames, then (with follow) every new one until the
 * file goes away (`lab down`) or the process is stopped.
 */
export async function followTrace(path: string, host: string, o: TraceViewOptions, out: NodeJS.WritableStream, pollMs = 200): Promise<void> {
  let filter: TraceFilter | null = null;
  if (o.filter !== null) filter = parseTraceFilter(o.filter);
  /** Whether a line is shown: not a record (passed on), a notice, or a record the filter takes. */
  const shown = (line: string): boolean => {
    if (line.trim() === '' || filter === null) return true;
    try {
      const rec = JSON.parse(line) as TraceRecord & { notice?: string };
      return typeof rec.notice === 'string' || filter.matches(subjectOf(rec));
    } catch {
      return true;
    }
  };
  const emit = (line: string): void => {
    if (line.trim() === '') return;
    let rec: TraceRecord & { notice?: string };
    try {
      rec = JSON.parse(line) as TraceRecord & { notice?: string };
    } catch {
      out.write(line + '\n'); // not JSON: pass it on as it is
      return;
    }
    if (typeof rec.notice === 'string') {
      out.write(o.json ? line + '\n' : renderNotice(rec.notice, 'text', false));
      return;
    }
    if (filter !== null && !filter.matches(subjectOf(rec))) return;
    out.write(o.json ? line + '\n' : renderRecord(rec, host, o.color));
  };

  if (!existsSync(path)) throw new LabError('VXTAP_ERR_LAB_NONE', `no trace file ${path}: is the lab up?`);
  let pos = 0;
  // The last `lines` records: read the end of the file (at most 4 MiB back).
  const size = statSync(path).size;
  const start = Math.max(0, size - 4 * 1024 * 1024);
  const tail = readRange(path, start, size).toString('utf8');
  const complete = tail.slice(0, tail.lastIndexOf('\n') + 1);
  const all = complete.split('\n').filter((l) => l.length > 0);
  if (start > 0) all.shift(); // the first line may be cut
  // -n counts the frames the filter shows, as tail -n of the filtered trace would.
  for (const l of o.lines > 0 ? all.filter(shown).slice(-o.lines) : []) emit(l);
  pos = start + Buffer.byteLength(complete);
  if (!o.follow) return;

  let partial = Buffer.alloc(0);
  for (;;) {
    let st;
    try {
      st = statSync(path);
    } catch {
      process.stderr.write(`the trace file ${path} is gone: the lab was taken down\n`);
      return;
    }
    if (st.size < pos) pos = 0; // truncated: start over
    if (st.size > pos) {
      // Whole lines only (a line may end, and a UTF-8 character may be cut, mid-read).
      const chunk = Buffer.concat([partial, readRange(path, pos, st.size)]);
      pos = st.size;
      const nl = chunk.lastIndexOf(0x0a);
      partial = nl < 0 ? chunk : chunk.subarray(nl + 1);
      if (nl >= 0) for (const l of chunk.subarray(0, nl).toString('utf8').split('\n')) emit(l);
    }
    await sleep(pollMs);
  }
}

function readRange(path: string, from: number, to: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(to - from);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}
