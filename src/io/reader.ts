/**
 * The JS side of a native Reader, shared by TapPort and BatchUdpPort: starts
 * and stops it over a FrameBatch, keeps the drop counters, and routes errors.
 * One closure per start(), none per batch or frame.
 */
import type { SystemError } from '../errors';
import { CallCounts, type BatchHandler, type FrameBatch } from './port';
import { toSystemError, type Addon, type NativeError, type NativeReader, type PortErrorHandler, type ReaderKind, type ReaderOffloadStats, type ReaderOptions } from './native';

/** native/stamps.h StampPoint: the JavaScript batch handler's entry and exit. */
export const STAMP_JS_ENTER = 4;
export const STAMP_JS_EXIT = 5;

export class ReaderControl {
  /** See PortErrorHandler. */
  onError: PortErrorHandler | null = null;
  /** Transient receive errors seen. */
  rxErrors = 0;
  /** Crossings: rx counted here, tx by the port's write/send. */
  readonly calls = new CallCounts();
  private reader: NativeReader | null = null;
  private truncatedBefore = 0;
  private readonly offloadBefore: ReaderOffloadStats = { gsoFrames: 0, segments: 0, csumCompleted: 0, dropped: 0, whole: 0 };

  constructor(
    private readonly addon: Addon,
    private readonly fd: number,
    private readonly kind: ReaderKind,
  ) {}

  get running(): boolean {
    return this.reader !== null && this.reader.active;
  }

  /** Frames dropped for not fitting a slot, over every start(). */
  get truncated(): number {
    return this.truncatedBefore + (this.reader?.truncated ?? 0);
  }

  /** Offload counters over every start(), as the port counters name them (all 0 for 'tap'; see ReaderOffloadStats). */
  get offload(): ReaderOffloadStats {
    const b = this.offloadBefore;
    const now = this.reader?.offload;
    if (now === undefined) return { ...b };
    return {
      gsoFrames: b.gsoFrames + now.gsoFrames,
      segments: b.segments + now.segments,
      csumCompleted: b.csumCompleted + now.csumCompleted,
      dropped: b.dropped + now.dropped,
      whole: b.whole + now.whole,
    };
  }

  start(batch: FrameBatch, onBatch: BatchHandler): void {
    if (this.running) throw new Error('this port is already reading: stop() it before start() again');
    this.stop();
    const calls = this.calls;
    const udp = this.kind === 'udp' || this.kind === 'udp-gro';
    // The latency budget's stamps (native/stamps.h) on the addon's own clock,
    // so that they line up with its other stamps. Off: one branch per batch.
    const addon = this.addon;
    const stamps = addon.stamps === true;
    const side = udp ? 1 : 0;
    const deliver = (n: number): void => {
      if (stamps) addon.stamp(STAMP_JS_ENTER, side, n);
      calls.rxCalls++;
      calls.rxFrames += n;
      batch.count = n;
      onBatch(batch);
      if (stamps) addon.stamp(STAMP_JS_EXIT, side, n);
    };
    const fail = (raw: NativeError): void => {
      const err = toSystemError(raw) as SystemError;
      const fatal = raw.fatal === true;
      if (!fatal) this.rxErrors++;
      if (this.onError !== null) this.onError(err, fatal);
      else if (fatal) throw err;
    };
    // A vnet TAP keeps super-frames whole when the batch has room for them (FrameBatch.superFrames).
    const { aux, superFrames } = batch;
    const whole = this.kind === 'tap-vnet' && aux !== null && superFrames !== null;
    const opts: ReaderOptions = {
      fd: this.fd, kind: whole ? 'tap-vnet-whole' : this.kind,
      slab: batch.slab, slotSize: batch.slotSize, headroom: batch.headroom, slots: batch.slots, sizes: batch.sizes,
      onBatch: deliver, onError: fail,
    };
    if (udp) {
      opts.names = batch.names;
      opts.mtu = batch.mtu;
    }
    if (whole) {
      opts.aux = aux;
      opts.whole = superFrames.table;
    }
    try {
      this.reader = new this.addon.Reader(opts);
    } catch (err) {
      throw toSystemError(err);
    }
  }

  /** Stops reading (a pending wakeup delivers nothing more). Idempotent. */
  stop(): void {
    if (this.reader === null) return;
    this.truncatedBefore += this.reader.truncated;
    Object.assign(this.offloadBefore, this.offload);
    this.reader.stop();
    this.reader = null;
  }
}
