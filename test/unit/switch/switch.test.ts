/**
 * The Switch with test doubles for its ports (the wireguard-go ChannelTUN
 * habit): a whole batch in, one send and one write out, and what the ports
 * refuse is counted, not retried.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
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
