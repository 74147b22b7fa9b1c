/**
 * Where the trace goes: a stream (process.stdout, a file, a test's sink),
 * written once per batch. Two rules keep the switch first:
 *   - if the stream falls behind (more than maxBuffered bytes not yet
 *     written), frames are skipped, and the gap is said before the next frame
 *     shown;
 *   - if the stream fails (EPIPE from `| head`, a closed file), tracing stops
 *     and forwarding goes on: the error is told once, nothing more is written.
 */

/** The stream the trace is written to (process.stdout, a file stream, a test's sink). */
export interface TraceOutput {
  write(chunk: string): boolean;
  readonly isTTY?: boolean;
  /** Bytes queued and not yet written; when it grows past maxBuffered, frames are skipped. */
  readonly writableLength?: number;
  /** Streams get an 'error' listener: a closed pipe (`| head`) ends the trace, not the switch. */
  on?(event: 'error', listener: (err: Error) => void): unknown;
}

export const DEFAULT_MAX_BUFFERED = 8 << 20;

export class TraceSink {
  /** The output's error, once it failed. */
  error: Error | null = null;
  /** Frames skipped since the gap was last said. */
  private behind = 0;

  constructor(
    private readonly out: TraceOutput,
    private readonly maxBuffered: number,
    /** Told once, when the output fails. */
    onError: (err: Error) => void,
  ) {
    out.on?.('error', (err: Error) => {
      if (this.error !== null) return;
      this.error = err;
      onError(err);
    });
  }

  /**
   * Room for one more frame, with `queued` characters of this batch not yet
   * written? False counts the frame as skipped (see takeSkipped).
   */
  admit(queued: number): boolean {
    if ((this.out.writableLength ?? 0) + queued > this.maxBuffered) {
      this.behind++;
      return false;
    }
    return true;
  }

  /** Frames skipped since the last call (to say so before the next frame shown), and start counting again. */
  takeSkipped(): number {
    const n = this.behind;
    this.behind = 0;
    return n;
  }

  /** One batch's text, in one write. */
  write(text: string): void {
    if (text !== '') this.out.write(text);
  }
}
