/**
 * The addon's contract that needs no device and no traffic: loading, errno
 * errors and their SystemError form, argument checks. Runs in the test
 * process itself (nothing here opens a TAP or sends a packet).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SystemError } from '../../src/errors';
import { FrameBatch } from '../../src/io/port';
import { addonAvailable, addonPath, loadAddon, toSystemError, type NativeError, type ReaderOptions } from '../../src/io/native';

const NOT_AN_FD = 1_000_000_000;

function nativeError(fn: () => unknown): NativeError {
  try {
    fn();
  } catch (err) {
    return err as NativeError;
  }
  assert.fail('expected a throw');
}

test('the addon is built and loads with every function of its contract', () => {
  assert.ok(addonPath.endsWith('build/Release/vxtap.node'));
  assert.equal(addonAvailable(), true);
  const a = loadAddon();
  for (const f of ['tapOpen', 'tapWrite', 'tapSetOffload', 'tapSegment', 'tapCoalesce', 'udpOpen', 'rawUdpOpen', 'localPort', 'udpSend', 'close', 'errnoName', 'Reader'] as const) {
    assert.equal(typeof a[f], 'function', f);
  }
  assert.equal(loadAddon(), a, 'loaded once');
});

test('an errno error carries code (name), errno (number), syscall and a readable message', () => {
  const e = nativeError(() => loadAddon().close(NOT_AN_FD));
  assert.ok(e instanceof Error);
  assert.equal(e.code, 'EBADF');
  assert.equal(e.errno, 9);
  assert.equal(e.syscall, 'close');
  assert.equal(e.message, `close fd ${NOT_AN_FD}: Bad file descriptor (EBADF)`);
});

test('toSystemError keeps the errno name and syscall; other errors pass through', () => {
  const sys = toSystemError(nativeError(() => loadAddon().close(NOT_AN_FD)));
  assert.ok(sys instanceof SystemError);
  assert.equal(sys.errno, 'EBADF');
  assert.equal(sys.code, 'VXTAP_ERR_SYS_EBADF');
  assert.equal(sys.syscall, 'close');
  assert.match(sys.message, /\(EBADF\)$/);
  const plain = new TypeError('x');
  assert.equal(toSystemError(plain), plain);
});

test('errnoName names errno numbers', () => {
  const a = loadAddon();
  assert.equal(a.errnoName(16), 'EBUSY');
  assert.equal(a.errnoName(1), 'EPERM');
  assert.equal(a.errnoName(77), 'EBADFD');
  assert.equal(a.errnoName(4000), 'ERRNO_4000');
});

test('a TAP name over 15 bytes is refused before the kernel is asked', () => {
  const e = nativeError(() => loadAddon().tapOpen('x'.repeat(16)));
  assert.equal(e.code, 'EINVAL');
  assert.equal(e.syscall, 'ioctl(TUNSETIFF)');
  assert.match(e.message, /at most 15 bytes, this one has 16/);
});

test('bad arguments throw TypeError or RangeError before any I/O', () => {
  const a = loadAddon();
  const slab = Buffer.alloc(100);
  const one = Uint32Array.of(0);
  assert.throws(() => a.udpOpen('300.1.1.1', 0), TypeError);
  assert.throws(() => a.udpOpen('0.0.0.0', 70000), RangeError);
  assert.throws(() => a.rawUdpOpen('nope'), TypeError);
  assert.throws(() => a.tapWrite(NOT_AN_FD, slab, Uint32Array.of(90), Uint32Array.of(20), 1), /outside the 100-byte slab/);
  assert.throws(() => a.tapWrite(NOT_AN_FD, slab, one, one, 2), RangeError);
  assert.throws(() => a.tapWrite(-1, slab, one, one, 1), RangeError);
  const table = Buffer.alloc(28);
  const ep = Int32Array.of(0);
  assert.throws(() => a.udpSend(NOT_AN_FD, slab, one, one, table, ep, 1, new Int32Array(1)), TypeError);
  assert.throws(() => a.udpSend(NOT_AN_FD, slab, one, one, table, new Uint32Array(1) as unknown as Int32Array, 1), TypeError);
  assert.throws(() => a.udpSend(NOT_AN_FD, slab, one, one, table, Int32Array.of(1), 1), /names no record of the 1-entry endpoint table/);
});

test('a Reader checks its batch geometry, and an fd it cannot watch is an errno error', () => {
  const a = loadAddon();
  const b = new FrameBatch(4, 256, 16);
  const noop = (): void => undefined;
  const opts = (over: Partial<ReaderOptions>): ReaderOptions =>
    ({ fd: 0, kind: 'tap', slab: b.slab, slotSize: 256, headroom: 16, sizes: b.sizes, slots: 4, onBatch: noop, onError: noop, ...over });
  assert.throws(() => new a.Reader(opts({ headroom: 256 })), RangeError);
  assert.throws(() => new a.Reader(opts({ slots: 0 })), RangeError);
  assert.throws(() => new a.Reader(opts({ slots: 5 })), RangeError);
  assert.throws(() => new a.Reader(opts({ kind: 'udp' })), TypeError);
  assert.throws(() => new a.Reader(opts({ kind: 'tun' as 'tap' })), TypeError);
  const e = nativeError(() => new a.Reader(opts({ fd: NOT_AN_FD })));
  assert.equal(e.code, 'EBADF');
  assert.equal(e.syscall, 'uv_poll_init');
});
