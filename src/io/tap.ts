/**
 * TapPort: Ethernet frames to and from a TAP device, over the addon.
 *
 * Reading is batched by the native Reader (read() per frame into the batch's
 * slots, one JS call per batch); writing is one write() per frame in one
 * addon call per batch. Opening a name that exists as a persistent TAP
 * (`ip tuntap add dev X mode tap user U`) attaches to it, so user U needs no
 * privileges.
 */
import { SystemError } from '../errors';
import type { BatchHandler, CallCounts, FrameBatch, FramePort, SendList } from './port';
import { loadAddon, toSystemError, type Addon, type PortErrorHandler, type PortStats } from './native';
import { ReaderControl } from './reader';

export class TapPort implements FramePort {
  private readonly reader: ReaderControl;
  private readonly errOut = new Int32Array(2);
  private closed = false;
  private txSkipped = 0;
  private lastTxError: string | null = null;

  private constructor(
    private readonly addon: Addon,
    /** The TAP's file descriptor (nonblocking, cloexec); -1 after close(). */
    private fdValue: number,
    /** The interface name the kernel used. */
    readonly name: string,
  ) {
    this.reader = new ReaderControl(addon, fdValue, 'tap');
  }

  /**
   * Creates or attaches to TAP `name` ('' or a template like 'vx%d': the
   * kernel picks). Throws SystemError: EBUSY (open elsewhere), EPERM (a
   * persistent TAP of another user), EINVAL (bad name: over 15 bytes, or a
   * device that is not a TAP), EACCES (no access to /dev/net/tun).
   */
  static open(name: string): TapPort {
    const addon = loadAddon();
    try {
      const { fd, name: actual } = addon.tapOpen(name);
      return new TapPort(addon, fd, actual);
    } catch (err) {
      throw toSystemError(err);
    }
  }

  get fd(): number {
    return this.fdValue;
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
    return { rxTruncated: this.reader.truncated, rxErrors: this.reader.rxErrors, txSkipped: this.txSkipped, lastTxError: this.lastTxError };
  }

  /** Delivers batches of received frames into `batch` until stop() or close(). */
  start(batch: FrameBatch, onBatch: BatchHandler): void {
    if (this.closed) throw new SystemError('read', 'EBADF', `TAP ${this.name} is closed`);
    this.reader.start(batch, onBatch);
  }

  /** Stops delivering batches; the device stays open and start() may be called again. */
  stop(): void {
    this.reader.stop();
  }

  /**
   * Writes list's frames (spans of slab). Returns how many the kernel took;
   * the rest are drops: after EAGAIN, or refused one by one (EIO while the
   * link is down, EINVAL for a runt; see stats.txSkipped / lastTxError).
   */
  write(slab: Buffer, list: SendList): number {
    if (this.closed) throw new SystemError('write', 'EBADF', `write to TAP ${this.name}: the port is closed`);
    if (list.count === 0) return 0;
    let n: number;
    try {
      n = this.addon.tapWrite(this.fdValue, slab, list.starts, list.lens, list.count, this.errOut);
    } catch (err) {
      throw toSystemError(err);
    }
    this.reader.calls.txCalls++;
    this.reader.calls.txFrames += n;
    if (this.errOut[0]! > 0) {
      this.txSkipped += this.errOut[0]!;
      this.lastTxError = this.addon.errnoName(this.errOut[1]!);
    }
    return n;
  }

  /** Stops the reader, then closes the fd (a non-persistent TAP disappears). Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.stop();
    const fd = this.fdValue;
    this.fdValue = -1;
    try {
      this.addon.close(fd);
    } catch (err) {
      throw toSystemError(err);
    }
  }
}
