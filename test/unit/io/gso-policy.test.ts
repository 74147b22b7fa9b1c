/**
 * GsoPolicy (src/io/udp-pool.ts): when a refused UDP GSO send only falls
 * back, and when GSO goes off. Each step feeds the `out` array the addon's
 * the pool send (PoolSend) fills after a send (native/udp-pool.cc):
 * [refusals in a row, GSO sends accepted, their datagrams, fallbacks,
 *  well-formed refusals, errno, smallest segment refused with EMSGSIZE,
 *  datagrams sent unsegmented].
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GSO_REFUSALS_TO_DISABLE, GsoPolicy, SEGMENT_LIMIT_MS } from '../../../src/io/udp-pool';

const EIO = 5;
const EINVAL = 22;
const EMSGSIZE = 90;
const NAMES: Record<number, string> = { [EIO]: 'EIO', [EINVAL]: 'EINVAL', [EMSGSIZE]: 'EMSGSIZE' };
const name = (e: number): string => NAMES[e] ?? `E${e}`;

/** One send's outcome, as the addon writes it (out[0] is what the addon carried over and updated). */
function send(p: GsoPolicy, o: { streak?: number; msgs?: number; dgrams?: number; fallbacks?: number; wellFormed?: number; errno?: number; tooBig?: number; alone?: number }): string | null {
  p.out.set([o.streak ?? p.out[0]!, o.msgs ?? 0, o.dgrams ?? 0, o.fallbacks ?? 0, o.wellFormed ?? 0, o.errno ?? 0, o.tooBig ?? 0, o.alone ?? 0]);
  return p.afterSend(name);
}

test('the documented policy: 8 well-formed refusals in a row, a 600 s segment limit', () => {
  assert.equal(GSO_REFUSALS_TO_DISABLE, 8);
  assert.equal(SEGMENT_LIMIT_MS, 600_000);
});

test('an oversized send (EMSGSIZE) falls back alone: GSO stays on, the segment limit is learned, and expires', () => {
  let now = 1000;
  const p = new GsoPolicy(true, { now: () => now });
  assert.equal(p.gsoArg(), 65507, 'no limit at first');
  assert.equal(send(p, { msgs: 3, dgrams: 150 }), null);
  // One super-frame of 1510-byte datagrams (VXLAN + a 1448-byte MSS segment) over a 1500 path MTU.
  assert.equal(send(p, { msgs: 2, dgrams: 100, fallbacks: 1, errno: EMSGSIZE, tooBig: 1510 }), null);
  assert.equal(p.enabled, true);
  assert.equal(p.gsoArg(), 1509, 'longer datagrams are sent unsegmented up front');
  assert.deepEqual(p.counters, {
    messages: 5, datagrams: 250, fallbacks: 1, refused: 0, lastRefusal: 'EMSGSIZE', unsegmented: 0, segmentLimit: 1509, disabled: null,
  });
  // A smaller refused segment lowers the limit; a larger one does not raise it.
  send(p, { fallbacks: 1, errno: EMSGSIZE, tooBig: 1480 });
  send(p, { fallbacks: 1, errno: EMSGSIZE, tooBig: 9000, alone: 4 });
  assert.equal(p.gsoArg(), 1479);
  assert.equal(p.counters.unsegmented, 4);
  // Many oversized sends never turn GSO off: each is the send's own fault.
  for (let i = 0; i < 100; i++) assert.equal(send(p, { fallbacks: 1, errno: EMSGSIZE, tooBig: 1480 }), null);
  assert.equal(p.enabled, true);
  assert.equal(p.counters.fallbacks, 103);
  // The limit holds SEGMENT_LIMIT_MS from its last lowering, then longer segments are tried again.
  now += SEGMENT_LIMIT_MS - 1;
  assert.equal(p.gsoArg(), 1479);
  now += 1;
  assert.equal(p.gsoArg(), 65507);
  assert.equal(p.counters.segmentLimit, null);
});

test('well-formed refusals (EIO/EINVAL) turn GSO off only when 8 come in a row, once, with the reason', () => {
  const p = new GsoPolicy(true);
  // Refusals with accepted sends between them: the addon resets the streak at each accepted GSO send.
  for (let i = 0; i < 20; i++) assert.equal(send(p, { streak: 1, msgs: 1, dgrams: 10, fallbacks: 1, wellFormed: 1, errno: EIO }), null);
  assert.equal(p.enabled, true);
  assert.equal(p.counters.refused, 20);
  // 7 in a row: still on.
  assert.equal(send(p, { streak: 7, fallbacks: 7, wellFormed: 7, errno: EINVAL }), null);
  assert.equal(p.gsoArg(), 65507);
  // The 8th: off, and said once.
  const reason = send(p, { streak: 8, fallbacks: 1, wellFormed: 1, errno: EINVAL });
  assert.equal(reason, 'refused on send: EINVAL (8 well-formed GSO sends in a row)');
  assert.equal(p.enabled, false);
  assert.equal(p.gsoArg(), 0, 'the addon sends one datagram per message from now on');
  assert.equal(p.counters.disabled, reason);
  assert.equal(send(p, { streak: 9, fallbacks: 1, wellFormed: 1, errno: EINVAL }), null, 'not said twice');
  assert.equal(p.counters.refused, 29);
});

test('the streak carries over between sends in out[0]; a refusal run across sends counts as one run', () => {
  const p = new GsoPolicy(true, { refusalsToDisable: 3 });
  p.out[0] = 0;
  // The addon reads out[0] in and writes it back: here, 2 then 1 more.
  assert.equal(send(p, { streak: 2, fallbacks: 2, wellFormed: 2, errno: EIO }), null);
  assert.equal(p.out[0], 2, 'kept for the next send');
  assert.match(send(p, { streak: 3, fallbacks: 1, wellFormed: 1, errno: EIO }) ?? '', /^refused on send: EIO \(3 well-formed/);
});

test('a port that started without GSO stays without it', () => {
  const p = new GsoPolicy(false);
  assert.equal(p.gsoArg(), 0);
  assert.equal(send(p, { streak: 50, fallbacks: 1, wellFormed: 1, errno: EIO }), null);
  assert.equal(p.counters.disabled, null);
});
