/**
 * The super-frame record's layout is written twice, once per language: the
 * SF_* constants of io/super-frames.ts and the kSf* of native/super-frames.h
 * (which read-tap.cc writes and udp-pool.cc reads). The addon says which
 * indices it was built with; they must be the view's. And the UDP port's
 * answer to the offload negotiation: it cuts super-frames at the send with
 * its GSO pool, and says why not without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAddon } from '../../src/io/native';
import { WHOLE } from '../../src/io/port';
import { BatchUdpPort } from '../../src/io/udp-batch';
import { SF_FIELDS, SF_LENGTH, SF_MSS, SF_OFFSET, SF_SEGMENTS } from '../../src/io/super-frames';

test('super-frames: the addon\'s field indices are the view\'s', () => {
  assert.deepEqual(loadAddon().superFrameFields, { offset: SF_OFFSET, length: SF_LENGTH, mss: SF_MSS, segments: SF_SEGMENTS, fields: SF_FIELDS });
});

test('negotiation: BatchUdpPort cuts super-frames with its GSO pool (offloads on), and says why not on the raw socket', () => {
  const gso = BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0, offload: true });
  const raw = BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0 });
  try {
    assert.ok(gso.offload.gso.enabled, `UDP GSO on loopback: ${gso.offload.gso.reason}`);
    assert.deepEqual(gso.wholeSuperFrames(), WHOLE);
    const a = raw.wholeSuperFrames();
    assert.equal(a.whole, false);
    assert.match(a.whole ? '' : a.reason, /raw socket.*UDP GSO: not requested/);
  } finally {
    gso.close();
    raw.close();
  }
});
