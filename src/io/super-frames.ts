/**
 * The super-frame side channel: a TSO super-frame read from a vnet TAP and
 * kept whole to the UDP send, which cuts it there (payloads in place). Its
 * segment 0 sits in the batch slot, finished, and is what the switch decides
 * on; the whole super-frame sits in the batch's `aux`, and slot i's record
 * says where and how to cut it.
 *
 * One record per slot, SF_FIELDS u32 each, in the table the addon fills
 * (the 'tap-vnet-whole' reader) and reads (the pool send, PoolSend). The field indices
 * are mirrored in native/super-frames.h (checked against the addon in
 * test/unit/io/super-frames.test.ts):
 *
 *   SF_OFFSET    where the super-frame starts in aux
 *   SF_LENGTH    its length (headers + every segment's payload)
 *   SF_MSS       the TCP payload per segment
 *   SF_SEGMENTS  how many segments: 0 (or 1) for a plain frame in slot i
 *
 * A view, after smoltcp's: accessors over the table, nothing allocated.
 */
export const SF_OFFSET = 0;
export const SF_LENGTH = 1;
export const SF_MSS = 2;
export const SF_SEGMENTS = 3;
/** u32 per slot. */
export const SF_FIELDS = 4;

export class SuperFrames {
  /** The records, SF_FIELDS per slot (the addon reads and writes this array). */
  readonly table: Uint32Array;

  constructor(readonly slots: number, table?: Uint32Array) {
    this.table = table ?? new Uint32Array(slots * SF_FIELDS);
    if (this.table.length < slots * SF_FIELDS) throw new RangeError(`a super-frame table for ${slots} slots needs ${slots * SF_FIELDS} u32, got ${this.table.length}`);
  }

  offset(i: number): number {
    return this.table[i * SF_FIELDS + SF_OFFSET]!;
  }

  length(i: number): number {
    return this.table[i * SF_FIELDS + SF_LENGTH]!;
  }

  mss(i: number): number {
    return this.table[i * SF_FIELDS + SF_MSS]!;
  }

  segments(i: number): number {
    return this.table[i * SF_FIELDS + SF_SEGMENTS]!;
  }

  /** True when slot i stands for a super-frame the send cuts (more than one segment), not a plain frame. */
  isWhole(i: number): boolean {
    return this.table[i * SF_FIELDS + SF_SEGMENTS]! > 1;
  }

  /**
   * The frame bytes of all of slot i's segments once cut, given segment 0's
   * frame length `seg0Len` (its headers + one MSS of payload): every further
   * segment repeats those headers in front of its share of the payload, so
   * the total is the super-frame plus one copy of the headers per further
   * segment.
   */
  cutBytes(i: number, seg0Len: number): number {
    const segs = this.segments(i);
    return this.length(i) + (seg0Len - this.mss(i)) * (segs - 1);
  }

  /** Slot i holds the super-frame aux[offset, offset + length), cut into `segments` of `mss`. */
  setWhole(i: number, offset: number, length: number, mss: number, segments: number): void {
    const r = i * SF_FIELDS;
    this.table[r + SF_OFFSET] = offset;
    this.table[r + SF_LENGTH] = length;
    this.table[r + SF_MSS] = mss;
    this.table[r + SF_SEGMENTS] = segments;
  }

  /** Slot i holds a plain frame. */
  setPlain(i: number): void {
    this.setWhole(i, 0, 0, 0, 0);
  }
}
