/**
 * The in-memory ports the switch's unit tests use: injection through a real
 * FrameBatch, recording of copies, and the drop behaviours of the real ports.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FrameBatch, SendList } from '../../src/io/port';
import { MemoryDatagramPort, MemoryFramePort } from '../../src/io/fake';

function frames(batch: FrameBatch): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < batch.count; i++) out.push(Buffer.from(batch.slab.subarray(batch.frameStart(i), batch.frameStart(i) + batch.sizes[i]!)));
  return out;
}

test('MemoryFramePort.inject fills the batch at the headroom and calls the handler once per batch', () => {
  const port = new MemoryFramePort('tap9');
  const batch = new FrameBatch(2, 64, 16);
  const seen: Buffer[][] = [];
  port.start(batch, (b) => seen.push(frames(b)));
  const f = [Buffer.from('aaaa'), Buffer.from('bb'), Buffer.from('c'), Buffer.alloc(49)];
  assert.equal(port.inject(f), 3);
  assert.deepEqual(seen, [[f[0], f[1]], [f[2]]], 'two slots: two calls for three frames');
  assert.equal(port.stats.rxTruncated, 1, 'a 49-byte frame does not fit 64 - 16');
  assert.equal(port.name, 'tap9');
});

test('MemoryFramePort.write records copies; acceptLimit refuses the rest', () => {
  const port = new MemoryFramePort();
  const slab = Buffer.from('0123456789');
  const list = new SendList(4);
  list.push(0, 3);
  list.push(5, 2);
  list.push(8, 2);
  port.acceptLimit = 2;
  assert.equal(port.write(slab, list), 2);
  slab.fill(0);
  assert.deepEqual(port.written.map(String), ['012', '56']);
  port.close();
  assert.throws(() => port.write(slab, list));
  assert.throws(() => port.inject([Buffer.alloc(1)]), /before start/);
});

test('MemoryDatagramPort.inject sets payload, sender address and port', () => {
  const port = new MemoryDatagramPort();
  const batch = new FrameBatch(4, 128, 32);
  const seen: [string, number, number][] = [];
  port.start(batch, (b) => {
    for (let i = 0; i < b.count; i++) seen.push([frames(b)[i]!.toString(), b.senderIpv4(i), b.senderPort(i)]);
  });
  port.inject([{ data: Buffer.from('vx1'), addr: '10.0.0.2', port: 4789 }, { data: Buffer.from('vx2'), addr: 0x0a000003, port: 5000 }]);
  assert.deepEqual(seen, [['vx1', 0x0a000002, 4789], ['vx2', 0x0a000003, 5000]]);
  assert.equal(port.writesUdpHeader, false);
});

test('MemoryDatagramPort.send without a UDP header: destination from the list, source = localPort', () => {
  const port = new MemoryDatagramPort({ localPort: 4790 });
  const slab = Buffer.from('xxVXLANyy');
  const list = new SendList(1);
  list.pushAddr(2, 5, 0x0a000002, 4789, 1234);
  assert.equal(port.send(slab, list), 1);
  assert.deepEqual(port.sent.map((s) => [s.payload.toString(), s.addr, s.port, s.srcPort]), [['VXLAN', 0x0a000002, 4789, 4790]]);
});

test('MemoryDatagramPort.send with writesUdpHeader: ports come from the header the caller wrote', () => {
  const port = new MemoryDatagramPort({ writesUdpHeader: true });
  assert.equal(port.writesUdpHeader, true);
  const slab = Buffer.alloc(32);
  slab.writeUInt16BE(51000, 4);
  slab.writeUInt16BE(4789, 6);
  slab.writeUInt16BE(8 + 4, 8);
  slab.write('VXLN', 12);
  const list = new SendList(2);
  list.pushAddr(4, 12, 0x0a000002, 4789);
  list.pushAddr(0, 3, 0x0a000002, 4789);
  assert.throws(() => port.send(slab, list), /shorter than a UDP header/);
  list.count = 1;
  port.sent.length = 0;
  assert.equal(port.send(slab, list), 1);
  const s = port.sent[0]!;
  assert.deepEqual([s.payload.toString(), s.srcPort, s.port, s.data.length], ['VXLN', 51000, 4789, 12]);
});

test('memory ports fill SendList.status: SENT, the refuse() errno in the middle, EAGAIN past acceptLimit', () => {
  const port = new MemoryFramePort();
  const slab = Buffer.from('0123456789');
  const list = new SendList(4);
  list.push(0, 3);
  list.push(3, 2);
  list.push(5, 2);
  list.push(8, 2);
  port.refuse = (data) => (data.toString() === '34' ? 22 : 0);
  port.acceptLimit = 2;
  assert.equal(port.write(slab, list), 2);
  assert.deepEqual([...list.status], [0, 22, 0, 11], 'EINVAL for the refused one, EAGAIN for the one past the limit');
  assert.deepEqual(port.written.map(String), ['012', '56']);
  assert.deepEqual(port.stats, { rxTruncated: 0, rxErrors: 0, txSkipped: 1, lastTxError: 'EINVAL' });
  assert.deepEqual([port.calls.txCalls, port.calls.txFrames], [1, 2]);
});
