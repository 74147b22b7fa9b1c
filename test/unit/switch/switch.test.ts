/**
 * The Switch with test doubles for its ports (the wireguard-go ChannelTUN
 * habit): a whole batch in, one send and one write out, and what the ports
 * refuse is counted, not retried.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { Switch } from '../../../src/switch/switch';
import { MemoryDatagramPort, MemoryFramePort } from '../../../src/io/fake';
import type { BatchHandler, FrameBatch } from '../../../src/io/port';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';
import { arpRequest, ipv4Frame } from '../../helpers/frames';

const SELF_MAC = '02:76:c0:a8:5a:01';
const PEER_MAC = '02:76:c0:a8:5a:02';
const PEER_IP = '192.168.90.2';

function make() {
  const tap = new MemoryFramePort('vxtap.7');
  const net = new MemoryDatagramPort({ writesUdpHeader: true });
  const sw = new Switch({ vni: 7, tap, net, mtu: 1450, batchSize: 32 });
  sw.fdb.set(macKeyFromString(PEER_MAC), parseIpv4(PEER_IP), 4789);
  sw.arp.set(parseIpv4('10.44.2.0'), macKeyFromString(PEER_MAC));
  sw.start();
  return { tap, net, sw };
}

test('a TAP batch becomes one send of VXLAN datagrams and one write of ARP replies', () => {
  const { tap, net, sw } = make();
  const frames = [
    arpRequest(SELF_MAC, '10.44.1.0', '10.44.2.0'),
    ...Array.from({ length: 10 }, (_, i) => ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.0', 17, 40000 + i, 9999)),
  ];
  tap.inject(frames);
  assert.equal(net.sent.length, 10);
  assert.equal(tap.written.length, 1, 'the ARP reply went back to the TAP');
  for (const [i, d] of net.sent.entries()) {
    assert.equal(d.addr, parseIpv4(PEER_IP));
    assert.equal(d.port, 4789);
    assert.ok(d.srcPort >= 49152);
    assert.deepEqual(d.payload.subarray(0, 8), Buffer.from([0x08, 0, 0, 0, 0, 0, 7, 0]));
    assert.deepEqual(d.payload.subarray(8), frames[i + 1]);
  }
  assert.equal(sw.counters.tapBatches, 1);
  assert.equal(sw.counters.encapFrames, 10);
});

test('a network batch becomes one TAP write of the inner frames', () => {
  const { tap, net, sw } = make();
  const inner = ipv4Frame(SELF_MAC, PEER_MAC, '10.44.2.0', '10.44.1.0', 1, 0, 0);
  const dgram = Buffer.concat([Buffer.from([0x08, 0, 0, 0, 0, 0, 7, 0]), inner]);
  net.inject([{ data: dgram, addr: PEER_IP, port: 50000 }, { data: dgram, addr: PEER_IP, port: 50001 }]);
  assert.equal(tap.written.length, 2);
  assert.deepEqual(tap.written[0], inner);
  assert.equal(sw.counters.decapFrames, 2);
});

test('what the socket or the TAP refuses is a counted drop, and the counts stay true', () => {
  const { tap, net, sw } = make();
  net.acceptLimit = 3;
  tap.inject(Array.from({ length: 5 }, (_, i) => ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.0', 6, 1000 + i, 80)));
  assert.equal(sw.counters.encapFrames, 3);
  assert.equal(sw.counters.dropCount('udp-send'), 2);

  tap.acceptLimit = 1;
  const inner = ipv4Frame(SELF_MAC, PEER_MAC, '10.44.2.0', '10.44.1.0', 1, 0, 0);
  const dgram = Buffer.concat([Buffer.from([0x08, 0, 0, 0, 0, 0, 7, 0]), inner]);
  net.inject([{ data: dgram, addr: PEER_IP, port: 1 }, { data: dgram, addr: PEER_IP, port: 2 }]);
  assert.equal(sw.counters.decapFrames, 1);
  assert.equal(sw.counters.decapBytes, inner.length);
  assert.equal(sw.counters.dropCount('tap-write'), 1);
});

test('whole super-frames: the switch keeps them whole only when both ports can, and unsent ones are dropped with all their segments', () => {
  // A TAP that can leave super-frames whole and a UDP port that cuts them at the send (as TapPort
  // with offloads and BatchUdpPort with UDP GSO); the batch is kept to set its `whole` table by hand.
  class WholeTap extends MemoryFramePort {
    readonly keepsWhole = true;
    kept: FrameBatch | null = null;
    override start(b: FrameBatch, cb: BatchHandler): void { this.kept = b; super.start(b, cb); }
  }
  class WholeNet extends MemoryDatagramPort { readonly sendsWhole = true; }
  const tap = new WholeTap('vxtap.7');
  const net = new WholeNet({ writesUdpHeader: true });
  const sw = new Switch({ vni: 7, tap, net, mtu: 1450, batchSize: 32 });
  sw.fdb.set(macKeyFromString(PEER_MAC), parseIpv4(PEER_IP), 4789);
  sw.start();
  const b = tap.kept!;
  assert.ok(b.aux !== null && b.whole !== null, 'the TAP batch keeps super-frames whole');

  const seg0 = ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.5', 6, 1, 2);
  const mss = seg0.length - 54;
  const plain = ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.5', 17, 1, 2);
  b.whole.set([0, 54 + 4 * mss + 10, mss, 5], 0); // slot 0 stands for 5 segments
  b.whole.set([0, 0, 0, 0], 4);
  net.acceptLimit = 1; // the super-frame's entry is taken, the plain frame's is not
  tap.inject([seg0, plain]);
  assert.equal(net.sent.length, 1);
  assert.equal(sw.counters.encapFrames, 5);
  assert.equal(sw.counters.encapBytes, 54 * 5 + 4 * mss + 10);
  assert.equal(sw.counters.dropCount('udp-send'), 1);

  net.acceptLimit = 0; // now nothing is taken: the super-frame is 5 dropped frames
  tap.inject([seg0, plain]);
  assert.equal(sw.counters.encapFrames, 5, 'unchanged');
  assert.equal(sw.counters.encapBytes, 54 * 5 + 4 * mss + 10, 'unchanged');
  assert.equal(sw.counters.dropCount('udp-send'), 1 + 5 + 1);

  // With a port that cannot cut super-frames (or with a tracer), frames go one by one.
  const plainNet = new MemoryDatagramPort({ writesUdpHeader: true });
  const t2 = new WholeTap('vxtap.8');
  new Switch({ vni: 7, tap: t2, net: plainNet, mtu: 1450 }).start();
  assert.equal(t2.kept!.whole, null);
});

// Issue #10: a port may refuse an entry in the middle of a batch and take the
// ones after it; the switch reads SendList.status, not the count as a prefix.
const { EACCES, EINVAL } = constants.errno;

test('issue #10: a datagram refused in the middle of a send is the one counted as udp-send; those after it stay encapsulated', () => {
  const { tap, net, sw } = make();
  // Three frames of 74, 84 and 94 bytes; the socket refuses the middle one.
  const frames = [0, 1, 2].map((k) => ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.0', 17, 1000 + k, 80, 32 + 10 * k));
  net.refuse = (_data, k) => (k === 1 ? EACCES : 0);
  tap.inject(frames);
  assert.deepEqual(net.sent.map((d) => d.payload.subarray(8)), [frames[0], frames[2]]);
  assert.equal(sw.counters.encapFrames, 2);
  assert.equal(sw.counters.encapBytes, frames[0]!.length + frames[2]!.length, 'the bytes of the frames sent, not of the first two');
  assert.equal(sw.counters.dropCount('udp-send'), 1);
  assert.deepEqual(net.stats, { rxTruncated: 0, rxErrors: 0, txSkipped: 1, lastTxError: 'EACCES' });
  const c = sw.counters.snapshot();
  assert.equal(c.tapInFrames, c.encapFrames + c.arpAnswered + c.tapDrops, 'the TAP side balances');
});

test('issue #10: a frame the TAP refuses at entry 0 is the tap-write drop, with its own bytes; entry 2 is not blamed', () => {
  const { tap, net, sw } = make();
  // Inner frames of 74, 84 and 94 bytes; the TAP refuses the first (as the kernel refuses a runt).
  const inner = [0, 1, 2].map((k) => ipv4Frame(SELF_MAC, PEER_MAC, '10.44.2.0', '10.44.1.0', 1, 0, 0, 32 + 10 * k));
  tap.refuse = (_data, k) => (k === 0 ? EINVAL : 0);
  net.inject(inner.map((f, k) => ({ data: Buffer.concat([Buffer.from([0x08, 0, 0, 0, 0, 0, 7, 0]), f]), addr: PEER_IP, port: 50000 + k })));
  assert.deepEqual(tap.written, [inner[1], inner[2]]);
  assert.equal(sw.counters.decapFrames, 2);
  assert.equal(sw.counters.decapBytes, inner[1]!.length + inner[2]!.length, 'the refused frame is 74 bytes: those are taken off, not entry 2\'s 94');
  assert.equal(sw.counters.dropCount('tap-write'), 1);
  const c = sw.counters.snapshot();
  assert.equal(c.netInFrames, c.decapFrames + c.netDrops, 'the network side balances');
});

test('issue #10: an ARP reply the TAP refuses between two it takes moves one answer to arp-reply-write', () => {
  const { tap, sw } = make();
  tap.refuse = (_data, k) => (k === 1 ? EINVAL : 0);
  tap.inject([0, 1, 2].map(() => arpRequest(SELF_MAC, '10.44.1.0', '10.44.2.0')));
  assert.equal(tap.written.length, 2);
  assert.equal(sw.counters.arpAnswered, 2);
  assert.equal(sw.counters.dropCount('arp-reply-write'), 1);
});

test('issue #10: a whole super-frame refused between two plain frames is dropped with all its segments; the frames around it stay sent', () => {
  class WholeTap extends MemoryFramePort {
    readonly keepsWhole = true;
    kept: FrameBatch | null = null;
    override start(b: FrameBatch, cb: BatchHandler): void { this.kept = b; super.start(b, cb); }
  }
  class WholeNet extends MemoryDatagramPort { readonly sendsWhole = true; }
  const tap = new WholeTap('vxtap.7');
  const net = new WholeNet({ writesUdpHeader: true });
  const sw = new Switch({ vni: 7, tap, net, mtu: 1450, batchSize: 32 });
  sw.fdb.set(macKeyFromString(PEER_MAC), parseIpv4(PEER_IP), 4789);
  sw.start();
  const b = tap.kept!;
  const seg0 = ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.5', 6, 1, 2);
  const mss = seg0.length - 54;
  const plain = ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.5', 17, 1, 2);
  b.whole!.set([0, 0, 0, 0], 0);
  b.whole!.set([0, 54 + 4 * mss + 10, mss, 5], 4); // slot 1 stands for 5 segments
  b.whole!.set([0, 0, 0, 0], 8);
  net.refuse = (_data, k) => (k === 1 ? EINVAL : 0);
  tap.inject([plain, seg0, plain]);
  assert.equal(net.sent.length, 2);
  assert.equal(sw.counters.encapFrames, 2, 'the two plain frames');
  assert.equal(sw.counters.encapBytes, 2 * plain.length);
  assert.equal(sw.counters.dropCount('udp-send'), 5, 'the super-frame, as its 5 segments');
  const c = sw.counters.snapshot();
  assert.equal(c.tapInFrames, c.encapFrames + c.arpAnswered + c.tapDrops);
});
