/**
 * The trace renderer: a TraceRecord (trace-record.ts) as text or JSON. One
 * renderer for both readers of a trace: `vxtap run --trace` renders as it
 * records, `vxtap lab trace` renders the JSON records a daemon wrote
 * (src/lab/trace-view.ts), and both print the same lines:
 *
 *   #3 12:00:01.000120 from TAP, 98 bytes
 *     PACKET: 98 bytes
 *     - header 1 (14 bytes) = Ethernet {02:76:c0:a8:5a:01 > 02:76:c0:a8:5a:02 type IPv4}
 *     - header 2 (20 bytes) = IPv4 {10.44.1.0 > 10.44.2.0 ttl 64 proto ICMP len 84}
 *     ...
 *     lookup  FDB hit 02:76:c0:a8:5a:02 → VTEP 192.168.90.2:4789 (static)
 *     =>      encap VNI 7, UDP 51234→4789, +50 bytes → 192.168.90.2:4789
 *     ON THE WIRE: 148 bytes as the kernel will send them (50 bytes of outer headers, then the frame above)
 *     - header 1 (14 bytes) = Ethernet {our MAC (eth0, mtu 1500) > the next hop's MAC (...)}
 *     ...
 *     - header 5.. = the frame above (98 bytes)
 *
 * Text has ANSI colours when asked (colorWanted: on a terminal, unless
 * NO_COLOR is set), times of day in UTC to the microsecond, and under a frame
 * that failed to decode a hex dump of each layer (gopacket's habit). JSON is
 * the record itself, one object a line.
 */
import { ConfigError } from '../errors';
import { formatLayers } from '../wire/decode';
import { renderWire } from './trace-outer';
import type { TraceRecord } from './trace-record';
import type { TraceOutput } from './trace-sink';

export type TraceFormat = 'text' | 'json';
export const TRACE_FORMATS: readonly TraceFormat[] = ['text', 'json'];

/** `--trace-format`: throws ConfigError for anything but text or json. */
export function parseTraceFormat(text: string): TraceFormat {
  if (!(TRACE_FORMATS as readonly string[]).includes(text)) {
    throw new ConfigError(`--trace-format: must be one of ${TRACE_FORMATS.join(', ')}, got ${JSON.stringify(text)}`, 'trace-format');
  }
  return text as TraceFormat;
}

/** NO_COLOR (no-color.org): set and not empty means no colour. */
export function colorWanted(out: TraceOutput, env: NodeJS.ProcessEnv = process.env): boolean {
  return out.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '');
}

const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', cyan: '\x1b[36m' } as const;
type Style = keyof typeof ANSI;

function paint(color: boolean, style: Style, s: string): string {
  return color ? ANSI[style] + s + ANSI.reset : s;
}

export interface TextOptions {
  color: boolean;
  /** Put before `#seq` (`vxtap lab trace` names the host), or null. */
  host?: string | null;
  /** The PACKET line's length when the bytes are at hand; null: the layers' extent. */
  length?: number | null;
  /** The bytes the layers' offsets refer to, for a hex dump under each layer; null: no dump. */
  dump?: Buffer | null;
}

/** One record as text: the header line, the layers, the lookups, the decision; a blank line after. */
export function renderText(rec: TraceRecord, o: TextOptions): string {
  const c = o.color;
  const clock = rec.time.slice(11, 23) + String(rec.tsUs % 1000).padStart(3, '0');
  const from = rec.outer
    ? `from network ${rec.outer.src}:${rec.outer.srcPort} → ${rec.outer.dst}:${rec.outer.dstPort}, ${rec.len} bytes of UDP payload`
    : `from TAP, ${rec.len} bytes`;
  const host = o.host ?? null;
  const lines = [paint(c, 'bold', `${host === null ? '' : host + ' '}#${rec.seq} ${clock} ${from}`)];
  const dump = o.dump ?? null;
  const body = formatLayers(rec.layers, dump !== null ? { buf: dump } : {}).split('\n');
  const length = o.length ?? null;
  if (length !== null) body[0] = `PACKET: ${length} bytes`;
  // A UDP socket never sees the underlay's Ethernet header: the packet starts at the outer IPv4, 14 bytes short of the wire.
  if (rec.outer) body[0] = `${body[0]} from the outer IPv4 on (${Number(body[0].split(' ')[1]) + 14} on the wire with the underlay's Ethernet header, which a socket never sees; outer IPv4 + UDP rebuilt from the socket's addresses)`;
  for (const l of body) {
    const bad = l.includes('= DecodeFailure {');
    lines.push('  ' + (bad ? paint(c, 'red', l) : l.startsWith('    ') ? paint(c, 'dim', l) : l));
  }
  for (const l of rec.lookups) lines.push('  ' + paint(c, 'cyan', 'lookup') + '  ' + l.text);
  const style: Style = rec.decision === 'drop' ? 'red' : 'green';
  lines.push('  ' + paint(c, style, '=>') + '      ' + paint(c, style, rec.reason));
  // The outer headers after the decision that made them; an encap the socket refused went nowhere.
  if (rec.wire !== null && rec.wire !== undefined && rec.decision === 'encap') {
    for (const l of renderWire(rec.wire, rec.len)) lines.push('  ' + l);
  }
  return lines.join('\n') + '\n\n';
}

/** One record as a JSON line. */
export function renderJson(rec: TraceRecord): string {
  return JSON.stringify(rec) + '\n';
}

/** A line that is not a frame (frames not shown): `{"notice": ...}` in JSON, yellow in text. */
export function renderNotice(s: string, format: TraceFormat, color: boolean): string {
  return format === 'json' ? JSON.stringify({ notice: s }) + '\n' : paint(color, 'yellow', s) + '\n';
}
