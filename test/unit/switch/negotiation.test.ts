/**
 * The one offload negotiation (io/port.ts WholeSuperFrames): every port and
 * every middleware port answers whether TCP super-frames may travel whole
 * from the TAP to the send, a "no" with its reason, and the Switch decides
 * from the two answers in one place (negotiate()). The pcap recorder says
 * no, and why, instead of turning it off silently.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDatagramPort, MemoryFramePort } from '../../../src/io/fake';
import { PcapDatagramPort, PcapFramePort, PcapRecorder } from '../../../src/io/pcap-port';
import { WHOLE, type FrameBatch, type BatchHandler, type WholeSuperFrames } from '../../../src/io/port';
import { DgramUdpPort } from '../../../src/io/udp-dgram';
import { negotiate, Switch } from '../../../src/switch/switch';
import type { Tracer } from '../../../src/switch/trace-hook';

class WholeTap extends MemoryFramePort {
  readonly keepsWhole = true;
  kept: FrameBatch | null = null;
  override start(b: FrameBatch, cb: BatchHandler): void { this.kept = b; super.start(b, cb); }
}
class WholeNet extends MemoryDatagramPort { readonly sendsWhole = true; }

const reasonOf = (a: WholeSuperFrames): string => (a.whole ? '' : a.reason);

test('negotiation: both ports say yes, no tracer: the TAP batch keeps super-frames whole and the send list points at it', () => {
  const tap = new WholeTap('vxtap.7');
  const sw = new Switch({ vni: 7, tap, net: new WholeNet({ writesUdpHeader: true }), mtu: 1450 });
  sw.start();
  assert.deepEqual(sw.wholeSuperFrames, WHOLE);
  assert.ok(tap.kept!.superFrames !== null && tap.kept!.aux !== null);
});

test('negotiation: the first "no" decides, with its reason: the tracer, then the TAP, then the UDP port', () => {
  const tracer = { frame: () => undefined, endBatch: () => undefined } as unknown as Tracer;
  const yesTap = new WholeTap('vxtap.7');
  const yesNet = new WholeNet({ writesUdpHeader: true });
  assert.match(reasonOf(negotiate(yesTap, yesNet, tracer)), /--trace/);
  assert.match(reasonOf(negotiate(new MemoryFramePort('t0'), yesNet, null)), /memory port t0 reads no super-frames/);
  assert.match(reasonOf(negotiate(yesTap, new MemoryDatagramPort(), null)), /does not cut super-frames/);
  assert.deepEqual(negotiate(yesTap, yesNet, null), WHOLE);

  const plainTap = new WholeTap('vxtap.8');
  const sw = new Switch({ vni: 7, tap: plainTap, net: new MemoryDatagramPort(), mtu: 1450 });
  sw.start();
  assert.equal(sw.wholeSuperFrames.whole, false);
  assert.equal(plainTap.kept!.superFrames, null, 'no side channel when the answer is no');
});

test('negotiation: the pcap recorder answers no with its reason around ports that say yes, and passes on a "no" of the port it wraps', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-negotiation-'));
  try {
    const rec = PcapRecorder.open(join(dir, 'x.pcap'));
    const tap = new WholeTap('vxtap.7');
    const pTap = new PcapFramePort(tap, rec);
    const pNet = new PcapDatagramPort(new WholeNet({ writesUdpHeader: true }), rec, { localIp: '192.168.90.1', localPort: 4789 });
    assert.match(reasonOf(pTap.wholeSuperFrames()), /^--pcap records each frame/);
    assert.match(reasonOf(pNet.wholeSuperFrames()), /^--pcap records each frame/);
    const sw = new Switch({ vni: 7, tap: pTap, net: pNet, mtu: 1450 });
    sw.start();
    assert.match(reasonOf(sw.wholeSuperFrames), /^--pcap/, 'the switch says why, instead of turning it off silently');
    assert.equal(tap.kept!.superFrames, null);
    // The wrapped port's own "no" is the one passed on (it is the truer reason).
    const inner = new PcapFramePort(new MemoryFramePort('t1'), rec);
    assert.match(reasonOf(inner.wholeSuperFrames()), /memory port t1/);
    rec.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('negotiation: --io dgram (Node\'s sockets) answers no, with its reason', async () => {
  const port = await DgramUdpPort.open({ bindIp: '127.0.0.1', port: 0 });
  try {
    assert.match(reasonOf(port.wholeSuperFrames()), /--io dgram/);
  } finally {
    port.close();
  }
});
