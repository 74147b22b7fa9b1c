/**
 * The super-frame record's layout is written twice, once per language: the
 * SF_* constants of io/super-frames.ts and the kSf* of native/super-frames.h
 * (which read-tap.cc writes and udp-pool.cc reads). The addon says which
 * indices it was built with; they must be the view's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAddon } from '../../src/io/native';
import { SF_FIELDS, SF_LENGTH, SF_MSS, SF_OFFSET, SF_SEGMENTS } from '../../src/io/super-frames';

test('super-frames: the addon\'s field indices are the view\'s', () => {
  assert.deepEqual(loadAddon().superFrameFields, { offset: SF_OFFSET, length: SF_LENGTH, mss: SF_MSS, segments: SF_SEGMENTS, fields: SF_FIELDS });
});
