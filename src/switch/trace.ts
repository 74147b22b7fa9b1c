/**
 * The teaching trace: every frame's path through the switch, layer by layer,
 * with the decision and the table lookups behind it (smoltcp's Tracer device,
 * printed the gopacket way). `vxtap run --trace`; `--trace-filter` picks the
 * frames shown.
 *
 * Split by concern, one module each:
 *   trace-edge.ts     the middleware around the Switch's batch handlers:
 *                     copies the frames before a batch, explains them after
 *                     from the pipeline's records (decisions.ts) and tables;
 *                     the pipeline knows no tracer;
 *   trace-hook.ts     what the edge calls (Tracer, FrameTrace) and the
 *                     explanation of a recorded decision;
 *   trace-record.ts   a decided frame as a TraceRecord: layers decoded (the
 *                     outer headers of a datagram rebuilt), lookups and the
 *                     decision explained; what the filter sees of it;
 *   trace-filter.ts   `--trace-filter`;
 *   trace-outer.ts    an encap's outer headers as the kernel will send them
 *                     (next hop MAC, TTL, DF, source port, VXLAN bytes);
 *   trace-render.ts   a record as text or JSON (shared with `vxtap lab trace`),
 *                     and `--trace-format`;
 *   trace-sink.ts     the output stream: skipping when it falls behind,
 *                     stopping when it fails;
 *   trace.ts (here)   FrameTracer, which implements the hook with the four:
 *                     it keeps a batch's frames until the edge says which
 *                     ones the ports took, then records, filters, renders and
 *                     writes them in one write. Used without a Switch, call
 *                     flush() after each batch.
 *
 * The names importers used before the split are exported from here too.
 */
import { vtepKey } from '../io/vtep-key';
import { performance } from 'node:perf_hooks';
import { SENT, type SendList } from '../io/port';
import { DropReason } from './drops';
import type { FrameTrace, Tracer } from './trace-hook';
import { parseTraceFilter, type TraceFilter } from './trace-filter';
import { FrameRecorder, subjectOf } from './trace-record';
import type { OuterContext } from './trace-outer';
import { colorWanted, renderJson, renderNotice, renderText, type TraceFormat } from './trace-render';
import { DEFAULT_MAX_BUFFERED, TraceSink, type TraceOutput } from './trace-sink';

export type { Action, Direction, FrameTrace, Lookup, Tracer } from './trace-hook';
export { FrameRecorder, subjectOf, type LookupRecord, type RecordContext, type TraceRecord } from './trace-record';
export { parseTraceFilter, type FilterSubject, type TraceFilter } from './trace-filter';
export { TRACE_FORMATS, colorWanted, parseTraceFormat, renderJson, renderNotice, renderText, type TextOptions, type TraceFormat } from './trace-render';
export type { TraceOutput } from './trace-sink';
export type { OuterContext, SendPath, UnderlayFacts, WireHeader, WireRecord } from './trace-outer';

export interface TracerOptions {
  out: TraceOutput;
  format?: TraceFormat;
  /** A parsed filter, the filter's text, or null for every frame. */
  filter?: TraceFilter | string | null;
  /** The peer behind an IP (an overlay address from the ARP table or a VTEP address): e.g. "lease 10.44.2.0/24, host 192.168.90.2". */
  describePeer?: ((ip: number) => string | null) | null;
  /** Our VNI. */
  vni: number;
  /** Our UDP port: the destination of received datagrams, and the source port of sends that cannot choose one. */
  port: number;
  /** Our underlay IPv4 (dotted quad or host-order u32), shown as the receiver of datagrams. Default 0.0.0.0. */
  localIp?: string | number;
  /** ANSI colours. Default: when `out` is a TTY and NO_COLOR is unset or empty. */
  color?: boolean;
  /** Skip frames while the stream holds more than this many unwritten bytes. Default 8 MiB. */
  maxBuffered?: number;
  /** Milliseconds since the epoch (fractional); for tests. */
  clock?: () => number;
  /** Told once when the output fails (EPIPE, ...); tracing stops, forwarding goes on. */
  onError?: ((err: Error) => void) | null;
  /** How the UDP port sends and the underlay facts per VTEP: the encap's outer headers (trace-outer.ts). Absent: not shown. */
  outer?: OuterContext | null;
}

export interface TracerStats {
  /** Frames the pipeline gave us. */
  traced: number;
  shown: number;
  /** Not matched by the filter. */
  filtered: number;
  /** Skipped because the output fell behind. */
  skipped: number;
  /** The output's error, once it failed: nothing more is written. */
  outputError: Error | null;
}

interface Pending {
  ev: FrameTrace;
  ms: number;
  seq: number;
}

export class FrameTracer implements Tracer {
  readonly stats: TracerStats = { traced: 0, shown: 0, filtered: 0, skipped: 0, outputError: null };
  private readonly format: TraceFormat;
  private readonly filter: TraceFilter | null;
  private readonly color: boolean;
  private readonly clock: () => number;
  private readonly recorder: FrameRecorder;
  private readonly sink: TraceSink;
  private pending: Pending[] = [];

  constructor(opts: TracerOptions) {
    this.format = opts.format ?? 'text';
    this.filter = typeof opts.filter === 'string' ? parseTraceFilter(opts.filter) : opts.filter ?? null;
    this.color = this.format === 'text' && (opts.color ?? colorWanted(opts.out));
    this.clock = opts.clock ?? (() => performance.timeOrigin + performance.now());
    this.recorder = new FrameRecorder({
      vni: opts.vni,
      port: opts.port,
      // A VTEP key (io/vtep-key.ts): an IPv4 u32, or an IPv6 underlay's key.
      localIp: typeof opts.localIp === 'string' ? vtepKey(opts.localIp) : (opts.localIp ?? 0) >>> 0,
      describePeer: opts.describePeer ?? null,
      outer: opts.outer ?? null,
    });
    const onError = opts.onError ?? null;
    this.sink = new TraceSink(opts.out, opts.maxBuffered ?? DEFAULT_MAX_BUFFERED, (err) => {
      this.stats.outputError = err;
      onError?.(err);
    });
  }

  frame(ev: FrameTrace): void {
    this.pending.push({ ev, ms: this.clock(), seq: ++this.stats.traced });
  }

  endBatch(toNet: SendList | null, toTap: SendList | null): void {
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    if (this.sink.error !== null) return;
    let text = '';
    for (const p of batch) {
      settle(p.ev, toNet, toTap);
      const { rec, buf } = this.recorder.record(p.ev, p.ms, p.seq);
      if (this.filter !== null && !this.filter.matches(subjectOf(rec))) {
        this.stats.filtered++;
        continue;
      }
      if (!this.sink.admit(text.length)) {
        this.stats.skipped++;
        continue;
      }
      const skipped = this.sink.takeSkipped();
      if (skipped > 0) text += renderNotice(`... ${skipped} frame(s) not shown: the trace output fell behind`, this.format, this.color);
      this.stats.shown++;
      text += this.format === 'json'
        ? renderJson(rec)
        : renderText(rec, { color: this.color, length: buf.length, dump: rec.decodeError !== null ? buf : null });
    }
    this.sink.write(text);
  }

  /** Renders what is pending as if every queued frame was taken (for a Pipeline used without a Switch). */
  flush(): void {
    this.endBatch(null, null);
  }
}

/**
 * The ports' answer for one frame: queued at index k of the 'net' or the
 * 'tap' list, it was refused when that list's status[k] is not SENT (the
 * ports fill a result per entry: SendList.status). The decision stands, the
 * outcome is a drop. A null list: nothing on it was refused.
 */
export function settle(ev: FrameTrace, toNet: SendList | null, toTap: SendList | null): void {
  if (ev.queued === 'net' && ev.flood !== null && ev.flood.length > 1) {
    // A flooded frame is dropped when no copy went out (Switch.undoEncap's rule); the refused copies are in the record.
    if (toNet === null) return;
    let first = -1;
    let refused = 0;
    for (let k = ev.index; k < ev.index + ev.flood.length; k++) {
      if (refusedAt(toNet, k)) {
        refused++;
        if (first < 0) first = k;
      }
    }
    ev.floodRefused = refused;
    if (refused === ev.flood.length) refuse(ev, DropReason.UDP_SEND, toNet.status[first]!);
  } else if (ev.queued === 'net' && refusedAt(toNet, ev.index)) refuse(ev, DropReason.UDP_SEND, toNet!.status[ev.index]!);
  else if (ev.queued === 'tap' && refusedAt(toTap, ev.index)) refuse(ev, ev.dir === 'tap' ? DropReason.ARP_REPLY_WRITE : DropReason.TAP_WRITE, toTap!.status[ev.index]!);
}

function refusedAt(list: SendList | null, k: number): boolean {
  return list !== null && k >= 0 && k < list.count && list.status[k] !== SENT;
}

function refuse(ev: FrameTrace, reason: number, errno: number): void {
  ev.action = 'drop';
  ev.drop = reason;
  ev.refusedErrno = errno;
}

/** The tracer the CLI makes for `vxtap run --trace`. Throws ConfigError for a bad filter. */
export function createTracer(opts: TracerOptions): FrameTracer {
  return new FrameTracer(opts);
}
