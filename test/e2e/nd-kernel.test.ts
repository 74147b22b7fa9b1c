/**
 * The ND responder against the Linux kernel's own IPv6 stack (Lab prefix
 * vxt-nd-): a TAP in a namespace holds fd60::1/64; the kernel resolves
 * fd60::2 with Neighbor Solicitations, which the responder answers from the
 * ND table on the TAP's other side (test/e2e/child-nd.ts). If the kernel
 * takes our NA (checksum, hop limit, flags, option), its neighbour table
 * holds the peer's MAC and its next datagram goes to that MAC.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as path from 'node:path';
import { Lab, needNamespaces } from '../helpers/netns';
import { runChild } from '../io/child';

const lab = new Lab('vxt-nd-');
after(() => lab.cleanup());

test('the kernel resolves a peer\'s address through our NA, multicast and unicast, and a miss stays unresolved', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('k');
  const r = runChild(lab, 'k', ['node', path.join(__dirname, 'child-nd.js')], 30);
  assert.equal(r.status, 0, `child failed: ${JSON.stringify(r.result)} ${r.stderr}`);
  const seen = r.result.seen as Record<string, number>;
  // Resolution: a multicast NS, answered; the kernel's entry holds the MAC from our option.
  assert.ok(seen.multicastNs! >= 1, JSON.stringify(seen));
  assert.deepEqual(r.result.resolved, { lladdr: '02:60:00:00:00:02', state: ['REACHABLE'] });
  // The datagrams to fd60::2 left for the peer's MAC, none elsewhere.
  assert.ok(seen.udpToPeerMac! >= 2, JSON.stringify(seen));
  assert.equal(seen.udpToOther, 0, JSON.stringify(seen));
  // The reachability probe is a unicast NS; our solicited NA makes the entry REACHABLE again.
  assert.ok(seen.unicastNs! >= 1, JSON.stringify(seen));
  assert.deepEqual(r.result.probed, { lladdr: '02:60:00:00:00:02', state: ['REACHABLE'] });
  // Every answer was taken by the TAP, nothing the kernel sent was malformed.
  assert.equal(seen.written, seen.answered);
  assert.equal(seen.malformed, 0);
  // fd60::9 is not in the table: a miss, never answered, so the kernel has no MAC for it.
  assert.ok(seen.missed! >= 1, JSON.stringify(seen));
  assert.deepEqual(r.result.missed, { lladdr: null });
});
