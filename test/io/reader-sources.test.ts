/**
 * The native Reader as one shell over one read source per kind
 * (native/reader.cc, read-source.h): it takes one options object, checked as
 * the positional form is, and each source keeps its own counters under names
 * that mean one thing (`counters`), mapped onto the port counters' names in
 * `offload`. The UDP sources run on a loopback socket (no namespace needed);
 * the TAP sources' counters are covered through the ports (tap.test.ts,
 * e2e/overlay.test.ts).
 */
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { test } from 'node:test';
import { loadAddon, type NativeError, type NativeReader, type ReaderKind, type ReaderOptions } from '../../src/io/native';
import { FrameBatch } from '../../src/io/port';
import * as tcp from '../../src/wire/tcp';
import { TCP_HDR, superFrame } from './tso-frames';
import { until } from './frames';

const addon = loadAddon();
const SLOT = 1600;
const HEADROOM = 64;
const MTU = 1450;
const NOT_AN_FD = 1_000_000_000;
const VX = Buffer.from('0800000000002a00', 'hex'); // I flag, VNI 42
const noop = (): void => undefined;

function options(kind: ReaderKind, b: FrameBatch, extra: Partial<ReaderOptions> = {}): ReaderOptions {
  return {
    fd: 0, kind, slab: b.slab, slotSize: b.slotSize, headroom: b.headroom, slots: b.slots, sizes: b.sizes,
    onBatch: noop, onError: noop, ...extra,
  };
}

function nativeError(fn: () => unknown): NativeError {
  try {
    fn();
  } catch (err) {
    return err as NativeError;
  }
  assert.fail('expected an error');
}

test('a Reader takes one options object, checked field by field before any poll is set up', () => {
  const b = new FrameBatch(4, 256, 16);
  const udp = { names: b.names };
  assert.throws(() => new addon.Reader(options('tap', b, { headroom: 256 })), { name: 'RangeError', message: /headroom must be smaller/ });
  assert.throws(() => new addon.Reader(options('tap', b, { slots: 0 })), { name: 'RangeError', message: /slots must be in 1 \.\. 1024/ });
  assert.throws(() => new addon.Reader(options('tap', b, { slots: 5 })), { name: 'RangeError', message: /slab has 1024 bytes/ });
  assert.throws(() => new addon.Reader(options('tun' as 'tap', b)), { name: 'TypeError', message: /kind must be/ });
  assert.throws(() => new addon.Reader(options('udp', b)), { name: 'TypeError', message: /names must be a Buffer/ });
  assert.throws(() => new addon.Reader(options('udp', b, { names: Buffer.alloc(4 * 28 - 1) })), { name: 'RangeError', message: /names must hold 4 endpoint records of 28 bytes/ });
  assert.throws(() => new addon.Reader(options('udp', b, { ...udp, mtu: -1 })), { name: 'RangeError', message: /mtu must be an integer/ });
  assert.throws(() => new addon.Reader(options('tap', b, { onBatch: undefined as unknown as () => void })), { name: 'TypeError', message: /onBatch must be a function/ });
  assert.throws(() => new addon.Reader(options('tap-vnet-whole', b, { aux: Buffer.alloc(1000), whole: new Uint32Array(16) })),
    { name: 'RangeError', message: /aux must hold at least one 64 KB super-frame/ });
  assert.throws(() => new addon.Reader(options('tap-vnet-whole', b, { aux: Buffer.alloc(70000), whole: new Uint32Array(15) })),
    { name: 'RangeError', message: /whole has 15 elements, needs 16/ });
  const e = nativeError(() => new addon.Reader(options('tap', b, { fd: NOT_AN_FD })));
  assert.equal(e.code, 'EBADF');
  assert.equal(e.syscall, 'uv_poll_init');
});

const COUNTERS: Record<'udp' | 'udp-gro', string[]> = {
  udp: ['truncated', 'superDatagrams', 'superSegments'],
  'udp-gro': ['truncated', 'superDatagrams', 'superSegments', 'groMessages', 'groDatagrams'],
};

for (const kind of ['udp', 'udp-gro'] as const) {
  test(`the '${kind}' source counts in its own names (${COUNTERS[kind].join(', ')}), and offload maps them onto the port counters`, async () => {
    const fd = addon.udpOpen('127.0.0.1', 0);
    if (kind === 'udp-gro') assert.equal(addon.udpOffload(fd, 'gro'), null, 'UDP_GRO on the socket');
    const port = addon.localPort(fd);
    const b = new FrameBatch(8, SLOT, HEADROOM);
    b.mtu = MTU;
    const got: { size: number; port: number }[] = [];
    let reader: NativeReader | null = null;
    const sender = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', resolve));
      const from = sender.address().port;
      reader = new addon.Reader({
        fd, kind, slab: b.slab, slotSize: b.slotSize, headroom: b.headroom, slots: b.slots, sizes: b.sizes,
        names: b.names, mtu: b.mtu,
        onBatch: (n) => { for (let i = 0; i < n; i++) got.push({ size: b.sizes[i]!, port: b.senderPort(i) }); },
        onError: (err) => { throw err; },
      });
      assert.deepEqual(Object.keys(reader.counters), COUNTERS[kind]);
      const send = (m: Buffer): Promise<void> => new Promise((resolve, reject) => sender.send(m, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
      const payload = Buffer.alloc(20000, 0x5a);
      await send(Buffer.concat([VX, Buffer.alloc(60, 1)]));
      await send(Buffer.alloc(0)); // a zero-length datagram gets a slot of its own
      await send(Buffer.concat([VX, superFrame(payload, 1, tcp.FLAG_ACK)]));
      await send(Buffer.alloc(3000, 0x08)); // longer than a slot, and no super-frame: truncated
      await send(Buffer.concat([VX, Buffer.alloc(60, 2)]));
      const cut = Math.ceil(payload.length / (MTU - 20 - TCP_HDR));
      assert.ok(await until(() => got.length >= cut + 3, 3000), `got ${got.length} frames`);
      // In order: the small one, the empty one, the segments (each in the MTU behind the VXLAN header), the small one.
      assert.equal(got.length, cut + 3);
      assert.deepEqual([got[0]!.size, got[1]!.size, got[cut + 2]!.size], [68, 0, 68]);
      assert.ok(got.slice(2, cut + 2).every((g) => g.size > 68 && g.size <= 8 + 14 + MTU), 'segments fit the MTU');
      assert.ok(got.every((g) => g.port === from), 'each slot names its sender');
      const want: Record<string, number> = { truncated: 1, superDatagrams: 1, superSegments: cut };
      if (kind === 'udp-gro') Object.assign(want, { groMessages: 0, groDatagrams: 0 });
      assert.deepEqual({ ...reader.counters }, want);
      assert.deepEqual({ ...reader.offload }, { gsoFrames: 1, segments: cut, csumCompleted: 0, dropped: 0, whole: 0 });
      assert.equal(reader.truncated, 1);
      reader.stop();
      assert.equal(reader.active, false);
      assert.deepEqual({ ...reader.counters }, want, 'the counters outlive stop()');
    } finally {
      reader?.stop();
      addon.close(fd);
      sender.close();
    }
  });
}
