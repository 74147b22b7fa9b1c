/**
 * What the pipeline decided for each frame of the last batch, kept in
 * preallocated typed arrays indexed by the frame's place in the batch.
 *
 * The pipeline always fills them (one store per frame: the verdict; L2 mode
 * adds the few facts below), traced or not, so that it needs no tracer and
 * no "is tracing on?" check: the trace is middleware at the switch's edge
 * (switch/trace-edge.ts) that reads these after the batch, together with
 * the tables, to explain each frame. Only what the tables cannot say
 * afterwards is kept here:
 *   - the verdict (a DropReason index, or a Verdict);
 *   - for a flood, how many send-list entries it queued (the flood list's
 *     size at the decision);
 *   - for an L2 decap, what learning did (LEARN_*: learning changes the FDB,
 *     so asking it again after the batch gives another answer) and, for a
 *     move, the VTEP the MAC moved from (Fdb.movedFrom is overwritten by the
 *     next move in the same batch);
 *   - where the batch's queue entries started on each send list (the lists
 *     may hold entries before the batch).
 * Nothing here allocates per frame; the arrays grow (doubling) only when a
 * batch is larger than any before it, once per batch at most.
 */

const INITIAL = 128;

export class Decisions {
  /** Per frame: a DropReason index (>= 0), or a Verdict (< 0). */
  verdict: Int16Array;
  /** Per frame with Verdict.FLOOD: the entries queued on the list to the network. */
  copies: Uint32Array;
  /** Per frame of an L2 decap: LEARN_* of fdb.ts, or -1 (no learning). Not written in routed mode. */
  learn: Int8Array;
  /** Per frame of an L2 decap whose learn is LEARN_MOVED: the VTEP the MAC was behind before. */
  movedFrom: Uint32Array;
  /** Frames in the last batch. */
  count = 0;
  /** toNet.count and toTap.count when the last batch began: its first entries' indices. */
  netStart = 0;
  tapStart = 0;

  constructor(capacity = INITIAL) {
    this.verdict = new Int16Array(capacity);
    this.copies = new Uint32Array(capacity);
    this.learn = new Int8Array(capacity).fill(-1);
    this.movedFrom = new Uint32Array(capacity);
  }

  /** Starts a batch of `count` frames (grows the arrays when needed). */
  begin(count: number, netStart: number, tapStart: number): void {
    if (count > this.verdict.length) this.grow(count);
    this.count = count;
    this.netStart = netStart;
    this.tapStart = tapStart;
  }

  private grow(count: number): void {
    let cap = Math.max(1, this.verdict.length);
    while (cap < count) cap *= 2;
    this.verdict = new Int16Array(cap);
    this.copies = new Uint32Array(cap);
    this.learn = new Int8Array(cap).fill(-1);
    this.movedFrom = new Uint32Array(cap);
  }
}
