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
import type { FramePort, SendList } from './port';
import { loadAddon, toSystemError, type Addon } from './native';
import { NativePort } from './native-port';

export class TapPort extends NativePort implements FramePort {
  private constructor(
    addon: Addon,
    /** The TAP's file descriptor (nonblocking, cloexec); -1 after close(). */
    private fdValue: number,
    /** The interface name the kernel used. */
    readonly name: string,
  ) {
    super(addon, fdValue, 'tap', `TAP ${name}`);
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
    return this.afterTx(n);
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
