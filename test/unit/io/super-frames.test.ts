/**
 * The super-frame side channel as one typed view (io/super-frames.ts): the
 * named accessors read the records that FrameBatch.keepWhole() makes room
 * for, at the field indices native/super-frames.h uses (test/io/super-frames.test.ts
 * holds the two to each other through the addon).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameBatch } from '../../../src/io/port';
import { SF_FIELDS, SF_LENGTH, SF_MSS, SF_OFFSET, SF_SEGMENTS, SuperFrames } from '../../../src/io/super-frames';

test('super-frames: a record is {offset, length, MSS, segments}, SF_FIELDS u32 per slot, read by name', () => {
  assert.deepEqual([SF_OFFSET, SF_LENGTH, SF_MSS, SF_SEGMENTS, SF_FIELDS], [0, 1, 2, 3, 4]);
  const sf = new SuperFrames(3);
  assert.equal(sf.table.length, 12);
  sf.setWhole(1, 320, 54 + 3000, 1000, 3);
  assert.deepEqual([...sf.table], [0, 0, 0, 0, 320, 3054, 1000, 3, 0, 0, 0, 0], 'golden record layout');
  assert.deepEqual([sf.offset(1), sf.length(1), sf.mss(1), sf.segments(1)], [320, 3054, 1000, 3]);
  assert.deepEqual([0, 1, 2].map((i) => sf.isWhole(i)), [false, true, false]);
  // Segment 0 is 54 bytes of headers + one MSS; the other two repeat the 54 header bytes.
  assert.equal(sf.cutBytes(1, 54 + 1000), 3054 + 2 * 54);
  sf.setPlain(1);
  assert.deepEqual([...sf.table.subarray(4, 8)], [0, 0, 0, 0]);
});

test('super-frames: one segment is a plain frame, not a super-frame to cut (as the reader and the send agree)', () => {
  const sf = new SuperFrames(1);
  sf.setWhole(0, 0, 1054, 1000, 1);
  assert.equal(sf.isWhole(0), false);
});

test('super-frames: a table too short for its slots is refused; a FrameBatch that keeps super-frames whole shares one table with the view', () => {
  assert.throws(() => new SuperFrames(4, new Uint32Array(15)), RangeError);
  const b = new FrameBatch(4, 2048, 64);
  assert.equal(b.superFrames, null);
  b.keepWhole(1);
  const sf = b.superFrames as SuperFrames | null;
  assert.ok(sf !== null && b.aux !== null);
  assert.equal(b.whole, sf.table, 'FrameBatch.whole is the view\'s table, not a copy');
  b.whole!.set([7, 8, 9, 2], 2 * SF_FIELDS);
  assert.deepEqual([sf.offset(2), sf.length(2), sf.mss(2), sf.segments(2)], [7, 8, 9, 2]);
});
