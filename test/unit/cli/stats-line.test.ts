/** The stats log line says the counters in words (the pretty log hides the object). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counters, DropReason } from '../../../src/switch/counters';
import { statsMessage } from '../../../src/cli/stats-line';

test('stats line: both sides with their drops, the non-zero drop reasons; L2 only when something happened there', () => {
  const c = new Counters();
  c.tapInFrames = 12; c.encapFrames = 10; c.arpAnswered = 1; c.drop(DropReason.FDB_MISS);
  c.netInFrames = 8; c.decapFrames = 7; c.drop(DropReason.VXLAN_UNKNOWN_VNI);
  assert.equal(statsMessage(c.snapshot()),
    'stats: TAP in 12 (encap 10, ARP answered 1, dropped 1); UDP in 8 (decap 7, dropped 1); drops: fdb-miss 1, vxlan-unknown-vni 1');
  c.l2.learned = 3; c.l2.floodedFrames = 2; c.l2.floodCopies = 4; c.l2.arpSuppressed = 1;
  assert.match(statsMessage(c.snapshot()), /; L2: learned 3, moved 0, aged 0, refused 0, flooded 2 as 4 copies, ARP suppressed 1; drops: /);
  assert.equal(statsMessage(new Counters().snapshot()), 'stats: TAP in 0 (encap 0, ARP answered 0, dropped 0); UDP in 0 (decap 0, dropped 0)');
});
