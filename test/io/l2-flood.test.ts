/**
 * Head-end replication through the real UDP ports (L2 mode, issue #10), in
 * a network namespace (Lab prefix vxt-l2fl-): the copies of a flooded frame
 * are consecutive send-list entries on ONE span with different destinations.
 * The GSO pool must not merge them into one GSO message (it merges only runs
 * to one destination), the raw socket must send each from the UDP header
 * written once, and the dgram port each to its own address. Each receiver
 * (127.0.0.2-4, one port) must get every flooded frame, byte for byte, and
 * the unicast only its owner. The scenario is test/io/child-l2-flood.ts.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { Lab, needNamespaces } from '../helpers/netns';
import { runChild } from './child';

const lab = new Lab('vxt-l2fl-');
after(() => lab.cleanup());

const CHILD = path.join(__dirname, 'child-l2-flood.js');
const VXLAN_HDR = '0800000000002a00'; // I flag, VNI 42

interface Result {
  ok: boolean;
  port: number;
  got: Record<string, { hex: string; srcPort: number; from: string }[]>;
  frames: string[];
  counters: { encapFrames: number; tapInFrames: number; tapDrops: number; drops: Record<string, number>; l2: { floodedFrames: number; floodCopies: number } };
  offload: { gso: { enabled: boolean; reason: string } } | null;
  writesUdpHeader: boolean;
}

for (const impl of ['pool', 'raw', 'dgram'] as const) {
  test(`${impl}: a flooded batch reaches every VTEP whole, the unicast only its owner`, (t) => {
    if (!needNamespaces(t)) return;
    lab.addNs(`f-${impl}`);
    const run = runChild(lab, `f-${impl}`, ['node', CHILD, impl]);
    assert.equal(run.status, 0, run.stderr);
    const r = run.result as unknown as Result;
    assert.equal(r.ok, true, JSON.stringify(r));
    if (impl === 'pool') assert.equal(r.offload!.gso.enabled, true, `the GSO pool path is what this checks: ${r.offload!.gso.reason}`);
    const [b1, b2, uni, unknown] = r.frames.map((f) => VXLAN_HDR + f);
    const sorted = (xs: string[]) => [...xs].sort();
    assert.deepEqual(sorted(r.got['127.0.0.2']!.map((g) => g.hex)), sorted([b1!, b2!, unknown!]));
    assert.deepEqual(sorted(r.got['127.0.0.3']!.map((g) => g.hex)), sorted([b1!, b2!, uni!, unknown!]));
    assert.deepEqual(sorted(r.got['127.0.0.4']!.map((g) => g.hex)), sorted([b1!, b2!, unknown!]));
    if (r.writesUdpHeader) {
      // One UDP header per frame, written once: every copy has the frame's flow-hash source port.
      for (const f of [b1!, b2!, unknown!]) {
        const ports = new Set(Object.values(r.got).flatMap((g) => g.filter((x) => x.hex === f).map((x) => x.srcPort)));
        assert.equal(ports.size, 1, 'all copies from one source port');
      }
    }
    assert.equal(r.counters.encapFrames, 4);
    assert.equal(r.counters.l2.floodedFrames, 3);
    assert.equal(r.counters.l2.floodCopies, 9);
    assert.equal(r.counters.tapDrops, 0);
    assert.equal(r.counters.tapInFrames, r.counters.encapFrames);
  });
}
