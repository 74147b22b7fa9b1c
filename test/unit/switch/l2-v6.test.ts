/**
 * The L2 switch with IPv6 VTEPs (issue #13): the same code as for IPv4 ones,
 * keyed by VTEP keys (src/io/vtep-key.ts). Flooding, learning, unicast to a
 * learned MAC, the source check, and an IPv6 sender no configuration named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AF_INET6, EP_RECORD } from '../../../src/io/endpoints';
import { MemoryDatagramPort, MemoryFramePort } from '../../../src/io/fake';
import { formatVtep, vtepKey } from '../../../src/io/vtep-key';
import { Switch } from '../../../src/switch/switch';
import { createTracer, type TraceRecord } from '../../../src/switch/trace';
import { macKeyFromString } from '../../../src/wire/addr';
import { ipv4Frame } from '../../helpers/frames';

const VNI = 42;
const PORT = 4789;
const LOCAL_MAC = '02:00:00:00:01:01';
const REMOTE_MAC = '02:00:00:00:02:02';
const V2 = 'fd00:90::2';
const V3 = 'fd00:90::3';

function make(acceptUnknownVteps = false) {
  const tap = new MemoryFramePort('vxtap0');
  const net = new MemoryDatagramPort({ writesUdpHeader: true });
  const sw = new Switch({ vni: VNI, tap, net, mtu: 1430, batchSize: 32, mode: 'l2', l2: { port: PORT }, acceptUnknownVteps });
  for (const v of [V2, V3]) sw.floodList.add(vtepKey(v), PORT);
  sw.start();
  return { sw, tap, net };
}

const vxlanOf = (frame: Buffer) => Buffer.concat([Buffer.from([0x08, 0, 0, 0, 0, 0, VNI, 0]), frame]);
const fromRemote = (src = REMOTE_MAC) => ipv4Frame(LOCAL_MAC, src, '10.0.0.2', '10.0.0.1', 17, 2000, 1000);

test('l2 over IPv6: a broadcast from the TAP goes to each IPv6 VTEP of the flood list, to an AF_INET6 record', () => {
  const { sw, tap, net } = make();
  tap.inject([ipv4Frame('ff:ff:ff:ff:ff:ff', LOCAL_MAC, '10.0.0.1', '10.0.0.255', 17, 1000, 2000)]);
  assert.deepEqual(net.sent.map((s) => formatVtep(s.addr)).sort(), [V2, V3]);
  assert.ok(net.sent.every((s) => s.port === PORT));
  // The endpoint table holds them as sockaddr_in6 records.
  const t = sw.endpoints;
  const families = [V2, V3].map((v) => t.buf.readUInt16LE(t.find(vtepKey(v), PORT) * EP_RECORD));
  assert.deepEqual(families, [AF_INET6, AF_INET6]);
});

test('l2 over IPv6: a frame from an IPv6 VTEP is delivered and its source learned behind that VTEP; a unicast back goes there only', () => {
  const { sw, tap, net } = make();
  net.inject([{ data: vxlanOf(fromRemote()), addr: V3, port: 50123 }]);
  assert.equal(tap.written.length, 1);
  const e = sw.fdb.lookup(macKeyFromString(REMOTE_MAC));
  assert.ok(e !== undefined);
  assert.equal(sw.fdb.describe(e).vtep, V3);
  tap.inject([ipv4Frame(REMOTE_MAC, LOCAL_MAC, '10.0.0.1', '10.0.0.2', 17, 1000, 2000)]);
  assert.equal(net.sent.length, 1);
  assert.equal(formatVtep(net.sent[0]!.addr), V3);
});

test('l2 over IPv6: an IPv6 sender not on the flood list is an unknown-vtep drop, also with unknown VTEPs accepted (it has no key to learn behind)', () => {
  const rec = Buffer.alloc(EP_RECORD);
  rec.writeUInt16LE(AF_INET6, 0);
  rec.writeUInt16BE(50123, 2);
  Buffer.from('20010db8000000000000000000000bad', 'hex').copy(rec, 8);
  for (const accept of [false, true]) {
    const { sw, tap, net } = make(accept);
    net.inject([{ data: vxlanOf(fromRemote()), addr: 0, port: 0, record: rec }]);
    assert.equal(tap.written.length, 0, `accept=${accept}`);
    assert.equal(sw.counters.dropCount('unknown-vtep'), 1, `accept=${accept}`);
    assert.equal(sw.fdb.lookup(macKeyFromString(REMOTE_MAC)), undefined);
  }
});

class Sink {
  readonly chunks: string[] = [];
  isTTY = false;
  writableLength = 0;
  write(s: string): boolean {
    this.chunks.push(s);
    return true;
  }
  get json(): TraceRecord[] {
    return this.chunks.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as TraceRecord);
  }
}

test('l2 over IPv6, traced: the decap record shows the outer IPv6 + UDP rebuilt from the socket\'s addresses, the learning behind the IPv6 VTEP, and the encap its 70-byte overhead', () => {
  const out = new Sink();
  const tracer = createTracer({ out, format: 'json', vni: VNI, port: PORT, localIp: 'fd00:90::1', clock: () => 0 });
  const tap = new MemoryFramePort('vxtap0');
  const net = new MemoryDatagramPort({ writesUdpHeader: true });
  const sw = new Switch({ vni: VNI, tap, net, mtu: 1430, batchSize: 32, tracer, mode: 'l2', l2: { port: PORT } });
  for (const v of [V2, V3]) sw.floodList.add(vtepKey(v), PORT);
  sw.start();
  net.inject([{ data: vxlanOf(fromRemote()), addr: V2, port: 50123 }]);
  tap.inject([ipv4Frame(REMOTE_MAC, LOCAL_MAC, '10.0.0.1', '10.0.0.2', 17, 1000, 2000)]);
  const [dec, enc] = out.json;
  assert.ok(dec !== undefined && enc !== undefined);
  assert.deepEqual(dec.outer, { src: V2, srcPort: 50123, dst: 'fd00:90::1', dstPort: PORT });
  assert.deepEqual(dec.layers.map((l) => l.name).slice(0, 3), ['IPv6', 'UDP', 'VXLAN']);
  assert.equal(dec.layers[0]!.fields['src'], V2);
  assert.equal(dec.layers[0]!.fields['dst'], 'fd00:90::1');
  assert.match(dec.layers[0]!.summary, /outer, rebuilt/);
  assert.equal(dec.decision, 'decap');
  assert.ok(JSON.stringify(dec.lookups).includes(V2), `the learning names the IPv6 VTEP: ${JSON.stringify(dec.lookups)}`);
  assert.equal(enc.decision, 'encap');
  assert.equal(enc.encap?.vtep, V2);
  assert.equal(enc.encap?.overhead, 70);
});
