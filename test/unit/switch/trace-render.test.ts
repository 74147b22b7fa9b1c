/**
 * One renderer for both readers of a trace: `vxtap lab trace` renders the
 * JSON records a daemon wrote (src/lab/trace-view.ts renderRecord) into the
 * same text `vxtap run --trace` prints as it goes, frame for frame, with the
 * host's name in front; a frame that fails to decode gets the same hex dump.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryDatagramPort, MemoryFramePort, type InjectedDatagram } from '../../../src/io/fake';
import { renderRecord } from '../../../src/lab/trace-view';
import { Switch } from '../../../src/switch/switch';
import { createTracer, renderNotice, type TraceFormat, type TraceRecord } from '../../../src/switch/trace';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';
import { arpRequest, ipv4Frame } from '../../helpers/frames';

const SELF_MAC = '02:76:c0:a8:5a:01';
const PEER_MAC = '02:76:c0:a8:5a:02';
const PEER_IP = '192.168.90.2';

/** The same frames through a switch traced in `format`; what the tracer wrote. */
function traced(format: TraceFormat, color: boolean): string {
  const chunks: string[] = [];
  const out = { isTTY: false, writableLength: 0, write: (s: string): boolean => chunks.push(s) > 0 };
  let ms = Date.UTC(2024, 0, 2, 3, 4, 5, 6);
  const tracer = createTracer({
    out, format, color, vni: 7, port: 4789, localIp: '192.168.90.1', clock: () => (ms += 0.125),
    describePeer: (ip) => (ip === parseIpv4(PEER_IP) ? 'host 192.168.90.2' : null),
  });
  const tap = new MemoryFramePort('vxtap.7');
  const net = new MemoryDatagramPort({ writesUdpHeader: true });
  const sw = new Switch({ vni: 7, tap, net, mtu: 1450, batchSize: 32, tracer, innerSourceCheck: true });
  sw.fdb.set(macKeyFromString(PEER_MAC), parseIpv4(PEER_IP), 4789);
  sw.peers.set(parseIpv4(PEER_IP), macKeyFromString(PEER_MAC), parseIpv4('10.44.2.0'), 24);
  sw.arp.set(parseIpv4('10.44.2.0'), macKeyFromString(PEER_MAC));
  sw.start();
  const vxlanOf = (f: Buffer, vni = 7): Buffer => Buffer.concat([Buffer.from([0x08, 0, 0, 0, 0, 0, vni, 0]), f]);
  const inner = ipv4Frame(SELF_MAC, PEER_MAC, '10.44.2.0', '10.44.1.0', 1, 0, 0);
  const fromPeer = (data: Buffer): InjectedDatagram => ({ data, addr: PEER_IP, port: 51234 });
  tap.inject([
    arpRequest(SELF_MAC, '10.44.1.0', '10.44.2.0'),
    ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.0', 1, 0x0800, 1),
    ipv4Frame('02:00:00:00:00:99', SELF_MAC, '10.44.1.0', '10.44.9.1', 6, 1, 2),
    ipv4Frame(PEER_MAC, SELF_MAC, '10.44.1.0', '10.44.2.0', 6, 1, 2).subarray(0, 40), // cut inside TCP: a DecodeFailure
    Buffer.alloc(10),
  ]);
  net.inject([
    fromPeer(vxlanOf(inner)),
    fromPeer(vxlanOf(inner, 9)),
    fromPeer(vxlanOf(inner).subarray(0, 40)), // cut inside the inner IPv4 header
    fromPeer(vxlanOf(ipv4Frame(SELF_MAC, PEER_MAC, '10.44.3.5', '10.44.1.0', 1, 0, 0))),
  ]);
  return chunks.join('');
}

/** The text output, one frame a block, with `host` put in front of each `#seq` (inside its bold, when coloured). */
function blocks(text: string, host: string): string[] {
  return text.split(/(?<=\n\n)(?=(?:\x1b\[1m)?#)/).map((b) => b.replace(/^(\x1b\[1m)?#/, `$1${host} #`));
}

for (const color of [false, true]) {
  test(`lab trace renders a daemon's JSON records as the daemon's own text trace (${color ? 'colours' : 'no colours'})`, () => {
    const records = traced('json', false).trim().split('\n').map((l) => JSON.parse(l) as TraceRecord);
    const text = blocks(traced('text', color), 'h1');
    assert.equal(records.length, 9);
    assert.equal(text.length, records.length);
    assert.ok(records.filter((r) => r.decodeError !== null).length >= 2, 'frames that fail to decode are among them');
    assert.ok(text.some((b) => /^ {2}(?:\x1b\[2m)? {4}00000000 {2}/m.test(b)), 'with a hex dump under the layers');
    records.forEach((rec, i) => assert.equal(renderRecord(rec, 'h1', color), text[i], `frame #${rec.seq}`));
  });
}

test('a notice is a JSON object in JSON, a line of its own in text', () => {
  assert.equal(renderNotice('... 3 frame(s) not shown', 'json', false), '{"notice":"... 3 frame(s) not shown"}\n');
  assert.equal(renderNotice('... 3 frame(s) not shown', 'text', false), '... 3 frame(s) not shown\n');
  assert.equal(renderNotice('x', 'text', true), '\x1b[33mx\x1b[0m\n');
});
