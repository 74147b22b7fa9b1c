/**
 * The underlay capture (io/packet-capture.ts over native/packet-capture.*)
 * on a namespace's loopback (Lab prefix vxt-pktcap-): the kernel filter
 * keeps UDP port 4789 and nothing else, each datagram is seen in both
 * directions with its direction flag, whole, with the kernel's timestamp,
 * and without CAP_NET_RAW opening it is a ConfigError naming
 * --pcap-underlay and the capability.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Lab, needNamespaces } from '../helpers/netns';
import { DIR_INBOUND, DIR_OUTBOUND } from '../../src/io/pcapng';
import { asUser, runChild } from './child';

const CHILD = path.join(__dirname, 'child-pktcap.js');

test('an AF_PACKET capture of UDP port 4789 on lo: only that port, both directions, whole frames, kernel timestamps', { timeout: 60_000 }, async (t) => {
  if (!needNamespaces(t)) return;
  const lab = new Lab('vxt-pktcap-');
  try {
    lab.addNs('a');
    const r = runChild(lab, 'a', ['node', CHILD]);
    assert.equal(r.status, 0, `child failed: ${JSON.stringify(r.result)} ${r.stderr}`);
    const res = r.result as { frames: number; interfaces: [string, string | null][]; packets: { iface: number; flags: number; comment: string | null; len: number; origLen: number; dport: number; udpLen: number; fill: number; inWindow: boolean }[] };
    assert.deepEqual(res.interfaces.map((i) => i[0]), ['none', 'lo']);
    assert.equal(res.frames, 6, 'three datagrams to 4789, each seen going out and coming in; none of those to 4790');
    assert.equal(res.packets.length, 6);
    for (const p of res.packets) {
      assert.equal(p.iface, 1);
      assert.equal(p.dport, 4789, 'the kernel filter kept only our port');
      assert.equal(p.comment, null, 'real frames carry no comment');
      assert.equal(p.len, p.origLen, 'whole');
      assert.equal(p.len, 14 + 20 + p.udpLen);
      assert.ok(p.inWindow, 'a kernel timestamp within the run');
    }
    // lo: each datagram leaves (PACKET_OUTGOING) and arrives (PACKET_HOST).
    assert.deepEqual(res.packets.map((p) => [p.udpLen - 8, p.flags]), [
      [10, DIR_OUTBOUND], [10, DIR_INBOUND], [100, DIR_OUTBOUND], [100, DIR_INBOUND], [1000, DIR_OUTBOUND], [1000, DIR_INBOUND],
    ]);
    assert.deepEqual(res.packets.map((p) => p.fill), [10, 10, 100, 100, 1000 & 0xff, 1000 & 0xff], 'the payload bytes');

    // Without CAP_NET_RAW (an unprivileged user): a ConfigError that names the flag and the capability.
    const u = runChild(lab, 'a', asUser(65534, ['node', CHILD]));
    assert.notEqual(u.status, 0);
    assert.equal(u.result['code'], 'VXTAP_ERR_CONFIG', JSON.stringify(u.result));
    assert.match(String(u.result['message']), /^--pcap-underlay: capturing on lo \(an AF_PACKET socket\) needs CAP_NET_RAW/);
  } finally {
    await lab.cleanup();
  }
});
