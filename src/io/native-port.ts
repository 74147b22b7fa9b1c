/**
 * What the addon's two ports (TapPort, BatchUdpPort) share: a native Reader
 * over a FrameBatch, the error handler, the counters, and the bookkeeping of
 * one batched write or send (how many the kernel took, how many it refused
 * one by one and why). Each port adds only how it opens, writes and closes.
 */
import { SystemError } from '../errors';
import type { BatchHandler, CallCounts, FrameBatch } from './port';
import { type Addon, type PortErrorHandler, type PortStats, type ReaderKind } from './native';
import { ReaderControl } from './reader';

export abstract class NativePort {
  protected readonly reader: ReaderControl;
  /**
   * Filled by the addon on each batched write/send: [frames refused one by
   * one, errno of the last, and for a vnet TAP's write: super-frames, segments in them;
   * for any TAP's write: partial checksums finished].
   */
  protected readonly errOut = new Int32Array(5);
  protected closed = false;
  private txSkipped = 0;
  private lastTxError: string | null = null;

  protected constructor(protected readonly addon: Addon, readFd: number, kind: ReaderKind, private readonly what: string) {
    this.reader = new ReaderControl(addon, readFd, kind);
  }

  /** See PortErrorHandler. */
  get onError(): PortErrorHandler | null {
    return this.reader.onError;
  }

  set onError(handler: PortErrorHandler | null) {
    this.reader.onError = handler;
  }

  get calls(): CallCounts {
    return this.reader.calls;
  }

  get stats(): PortStats {
    return this.statsBase();
  }

  protected statsBase(): PortStats {
    return { rxTruncated: this.reader.truncated, rxErrors: this.reader.rxErrors, txSkipped: this.txSkipped, lastTxError: this.lastTxError };
  }

  /** Delivers batches into `batch` until stop() or close(). */
  start(batch: FrameBatch, onBatch: BatchHandler): void {
    if (this.closed) throw new SystemError('read', 'EBADF', `${this.what} is closed`);
    this.reader.start(batch, onBatch);
  }

  /** Stops delivering batches; the fd stays open and start() may be called again. */
  stop(): void {
    this.reader.stop();
  }

  /** Counts one batched write/send that the kernel took `n` frames of. Returns n. */
  protected afterTx(n: number): number {
    this.reader.calls.txCalls++;
    this.reader.calls.txFrames += n;
    if (this.errOut[0]! > 0) {
      this.txSkipped += this.errOut[0]!;
      this.lastTxError = this.addon.errnoName(this.errOut[1]!);
    }
    return n;
  }
}
