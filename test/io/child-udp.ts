/**
 * Runs inside a test namespace (started by udp.test.ts through
 * `ip netns exec`): one scenario per invocation, `node child-udp.js <cmd> ...`,
 * printing one JSON line. Not a test file itself.
 */
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { parentPort, Worker } from 'node:worker_threads';
import { SystemError } from '../../src/errors';
import { constants } from 'node:os';
import { MemoryFramePort } from '../../src/io/fake';
import { FrameBatch, SendList, type DatagramPort } from '../../src/io/port';
import { readCapture } from '../../src/io/pcapng';
import { PcapDatagramPort, PcapRecorder } from '../../src/io/pcap-port';
import { Switch } from '../../src/switch/switch';
import { FrameTracer, type TraceRecord } from '../../src/switch/trace';
import { macKeyFromString } from '../../src/wire/addr';
import { ipv4Frame } from '../helpers/frames';
import { BatchUdpPort } from '../../src/io/udp-batch';
import { DgramUdpPort } from '../../src/io/udp-dgram';
import { errorJson, sleep, until } from './frames';
import { loadAddon } from '../../src/io/native';
import { HDR, L4, MSS, superFrame, vnetHdr } from './tso-frames';

type Impl = 'batch' | 'dgram';
type AnyPort = (BatchUdpPort | DgramUdpPort) & DatagramPort;

const LOOPBACK = 0x7f000001;

async function openPort(impl: Impl, bindIp: string, port: number): Promise<AnyPort> {
  return impl === 'batch' ? BatchUdpPort.open({ bindIp, port, rcvbuf: 1 << 20, sndbuf: 1 << 20 }) : DgramUdpPort.open({ bindIp, port });
}

/**
 * Fills slab slot k with a datagram of `size` payload bytes (pattern k) to
 * dst:dstPort and pushes it on list. For ports that write the UDP header,
 * the span starts with it (source port srcPort, checksum 0).
 */
function pushDatagram(port: DatagramPort, slab: Buffer, list: SendList, k: number, size: number, dst: number, dstPort: number, srcPort: number): void {
  const slot = k * 2048;
  const hdr = port.writesUdpHeader ? 8 : 0;
  const payload = slot + 64;
  slab.fill(k & 0xff, payload, payload + size);
  slab.writeUInt16BE(k, payload);
  if (hdr > 0) {
    slab.writeUInt16BE(srcPort, payload - 8);
    slab.writeUInt16BE(dstPort, payload - 6);
    slab.writeUInt16BE(size + 8, payload - 4);
    slab.writeUInt16BE(0, payload - 2);
  }
  list.pushAddr(payload - hdr, size + hdr, dst, dstPort, srcPort);
}

/** What a received slot holds: [size, addr, port, index k carried in the payload, pattern intact]. */
function readSlot(b: FrameBatch, i: number): [number, number, number, number, boolean] {
  const off = b.frameStart(i);
  const size = b.sizes[i]!;
  const k = b.slab.readUInt16BE(off);
  let intact = true;
  for (let j = 2; j < size; j++) if (b.slab[off + j] !== (k & 0xff)) intact = false;
  return [size, b.senderIpv4(i), b.senderPort(i), k, intact];
}

/** The receive queue (bytes) of every raw IPPROTO_UDP socket in this namespace: the addon's drop-all filter keeps them at 0. */
function rawRxQueues(): number[] {
  return readFileSync('/proc/net/raw', 'utf8').trim().split('\n').slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[1]!.endsWith(':0011'))
    .map((f) => parseInt(f[4]!.split(':')[1]!, 16));
}

/** A sends N datagrams to B in one send(); B reports what it got, in how many batches. */
async function exchange(impl: Impl): Promise<object> {
  const a = await openPort(impl, '127.0.0.1', 0);
  const b = await openPort(impl, '127.0.0.1', 0);
  const n = 40;
  const got: [number, number, number, number, boolean][] = [];
  const batches: number[] = [];
  b.start(new FrameBatch(64, 2048, 64), (batch) => {
    batches.push(batch.count);
    for (let i = 0; i < batch.count; i++) got.push(readSlot(batch, i));
  });
  const slab = Buffer.alloc(n * 2048);
  const list = new SendList(n);
  for (let k = 0; k < n; k++) pushDatagram(a, slab, list, k, 50 + k * 20, LOOPBACK, b.localPort, 40000 + k);
  const sent = a.send(slab, list);
  slab.fill(0); // the slab is the caller's again as soon as send() returns
  await until(() => got.length >= n, 3000);
  const out = { ok: true, sent, aPort: a.localPort, got, batches, stats: b.stats, rawRxQueues: rawRxQueues() };
  a.close();
  b.close();
  return out;
}

/** Datagrams longer than a slot are dropped and counted; the rest keep their order and bytes. */
async function truncate(impl: Impl): Promise<object> {
  const a = await openPort(impl, '127.0.0.1', 0);
  const b = await openPort(impl, '127.0.0.1', 0);
  const got: [number, number, number, number, boolean][] = [];
  b.start(new FrameBatch(8, 320, 64), (batch) => { // 256 bytes per datagram
    for (let i = 0; i < batch.count; i++) got.push(readSlot(batch, i));
  });
  const slab = Buffer.alloc(5 * 2048);
  const list = new SendList(5);
  [100, 1000, 256, 257, 120].forEach((size, k) => pushDatagram(a, slab, list, k, size, LOOPBACK, b.localPort, 41000 + k));
  const sent = a.send(slab, list);
  await until(() => got.length >= 3 && b.stats.rxTruncated >= 2, 3000);
  await sleep(50);
  const out = { ok: true, sent, got, truncated: b.stats.rxTruncated };
  a.close();
  b.close();
  return out;
}

/** Binding a port in use: EADDRINUSE as SystemError for both implementations. */
async function addrInUse(impl: Impl): Promise<object> {
  const a = await openPort(impl, '127.0.0.1', 0);
  try {
    await openPort(impl, '127.0.0.1', a.localPort);
    return { ok: true };
  } catch (err) {
    return { ...errorJson(err), isSystemError: err instanceof SystemError, sysErrno: (err as SystemError).errno };
  } finally {
    a.close();
  }
}

/** One datagram in the batch has no route: it alone is skipped and counted, the others are sent. */
async function skipUnreachable(): Promise<object> {
  const a = BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0 });
  const b = BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0 });
  let got = 0;
  b.start(new FrameBatch(8, 2048, 64), (batch) => { got += batch.count; });
  const slab = Buffer.alloc(3 * 2048);
  const list = new SendList(3);
  pushDatagram(a, slab, list, 0, 100, LOOPBACK, b.localPort, 42000);
  pushDatagram(a, slab, list, 1, 100, 0x0ac80001 /* 10.200.0.1: no route here */, b.localPort, 42001);
  pushDatagram(a, slab, list, 2, 100, LOOPBACK, b.localPort, 42002);
  const sent = a.send(slab, list);
  await until(() => got >= 2, 2000);
  const out = { ok: true, sent, got, stats: a.stats };
  a.close();
  b.close();
  return out;
}

/** 127.255.255.255: the loopback's broadcast address; a socket without SO_BROADCAST gets EACCES for it. */
const LO_BROADCAST = 0x7fffffff;

/**
 * Per-entry results through the real addon (issue #10), `mode` raw (udpSend
 * on the raw socket), gso (PoolSend) or dgram (node:dgram).
 *  1. The port alone: a batch whose refused entries sit between sent ones:
 *     a datagram to the loopback's broadcast address (EACCES: no
 *     SO_BROADCAST) and one over 65507 bytes (EMSGSIZE); for dgram, whose
 *     kernel errors come later in a callback, a datagram to port 0, which
 *     dgram refuses at once. Which status each entry got, and which arrived.
 *  2. The switch's consumers: three frames from a (memory) TAP to three MACs
 *     whose FDB entries point at the receiver, at the refused destination,
 *     and at the receiver again, sent by a Switch through the pcap
 *     middleware over the real port, with a tracer. What the counters, the
 *     trace and the pcap say of each frame.
 */
async function sendStatus(mode: string): Promise<object> {
  const a: AnyPort = mode === 'dgram'
    ? await DgramUdpPort.open({ bindIp: '127.0.0.1', port: 0 })
    : BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0, offload: mode === 'gso' });
  const b = BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0 });
  const got: number[] = [];
  b.start(new FrameBatch(16, 2048, 64), (batch) => {
    for (let i = 0; i < batch.count; i++) got.push(readSlot(batch, i)[3]);
  });
  const srcPort = a.sourcePorts !== undefined ? a.sourcePorts.min + 1 : 40000;

  // 1. The port alone.
  const big = 66000;
  const slab = Buffer.alloc(4 * 2048 + big + 64);
  const list = new SendList(5);
  list.status.fill(-1); // a status the port did not fill would show
  const bad = mode === 'dgram' ? { addr: LOOPBACK, port: 0 } : { addr: LO_BROADCAST, port: b.localPort };
  pushDatagram(a, slab, list, 0, 100, LOOPBACK, b.localPort, srcPort);
  pushDatagram(a, slab, list, 1, 100, bad.addr, bad.port, srcPort);
  pushDatagram(a, slab, list, 2, 100, LOOPBACK, b.localPort, srcPort);
  if (mode !== 'dgram') {
    pushDatagram(a, slab, list, 3, 100, LOOPBACK, b.localPort, srcPort);
    // Entry 3's span grown past what one IPv4 datagram can carry.
    list.lens[3] = big;
    slab.writeUInt16BE(0, 3 * 2048 + 64 - 8 + 4);
    pushDatagram(a, slab, list, 4, 100, LOOPBACK, b.localPort, srcPort);
  }
  const sent = a.send(slab, list);
  const status = [...list.status.subarray(0, list.count)];
  const txStats = { txSkipped: a.stats.txSkipped, lastTxError: a.stats.lastTxError };
  await until(() => got.length >= sent, 3000);
  await sleep(50);
  const arrived = [...got].sort((x, y) => x - y);

  // 2. Through a Switch, the pcap middleware and a tracer.
  const pcapPath = `/tmp/vxt-send-status-${process.pid}-${mode}.pcap`;
  const rec = PcapRecorder.open(pcapPath);
  const lines: string[] = [];
  const tracer = new FrameTracer({ out: { write: (t: string) => { lines.push(t); return true; } }, format: 'json', vni: 7, port: 4789, localIp: '127.0.0.1' });
  const net = new PcapDatagramPort(a, rec, { localIp: '127.0.0.1', localPort: a.localPort });
  const tap = new MemoryFramePort('vxtap.7');
  const sw = new Switch({ vni: 7, tap, net, mtu: 1450, tracer });
  const self = '02:76:00:00:00:01';
  const macs = ['02:76:00:00:00:0a', '02:76:00:00:00:0b', '02:76:00:00:00:0c'];
  sw.fdb.set(macKeyFromString(macs[0]!), LOOPBACK, b.localPort);
  sw.fdb.set(macKeyFromString(macs[1]!), bad.addr, bad.port);
  sw.fdb.set(macKeyFromString(macs[2]!), LOOPBACK, b.localPort);
  sw.start();
  got.length = 0;
  // Inner frames of 74, 84 and 94 bytes, to tell them apart.
  const frames = macs.map((m, k) => ipv4Frame(m, self, '10.44.1.2', '10.44.2.2', 17, 40000 + k, 9999, 32 + 10 * k));
  tap.inject(frames);
  const snap = sw.counters.snapshot();
  await until(() => got.length >= 2, 3000);
  sw.close();
  b.close();
  rec.close();
  const trace = lines.join('').trim().split('\n').map((l) => JSON.parse(l) as TraceRecord).map((r) => [r.len, r.decision, r.drop]);
  // Each pcap record: outer Ethernet + IPv4 + UDP + VXLAN + the inner frame.
  const pcapSent = readCapture(readFileSync(pcapPath)).packets.map((r) => [
    [r.data[30], r.data[31], r.data[32], r.data[33]].join('.'), r.data.length - 14 - 20 - 8 - 8,
  ]);
  rmSync(pcapPath, { force: true });
  return {
    ok: true, sent, status, arrived, errno: { EACCES: constants.errno.EACCES, EMSGSIZE: constants.errno.EMSGSIZE, EINVAL: constants.errno.EINVAL },
    txStats,
    counters: { encapFrames: snap.encapFrames, encapBytes: snap.encapBytes, udpSend: snap.drops['udp-send'], tapDrops: snap.tapDrops },
    trace, pcapSent,
  };
}

/** Raw send with chosen source ports, across the underlay, to a plain receiver in another namespace. */
async function sendRaw(srcIp: string, dstIp: string, dstPort: string, count: string): Promise<object> {
  const a = BatchUdpPort.open({ bindIp: srcIp, port: 0, srcIp });
  const n = Number(count);
  const slab = Buffer.alloc(n * 2048);
  const list = new SendList(n);
  const dst = dstIp.split('.').reduce((acc, p) => ((acc << 8) | Number(p)) >>> 0, 0);
  for (let k = 0; k < n; k++) pushDatagram(a, slab, list, k, 60 + k, dst, Number(dstPort), 50000 + k * 7);
  const sent = a.send(slab, list);
  a.close();
  return { ok: true, sent };
}

/**
 * UDP GSO + GRO over loopback: a run of 30 equal datagrams and a shorter
 * last one from one pool port, 5 small ones from another, and one whose
 * source port is outside the pool (skipped, EINVAL). The receiver has GRO.
 */
async function gsoExchange(): Promise<object> {
  const a = BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0, offload: true });
  const b = BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0, offload: true });
  const got: [number, number, number, number, boolean][] = [];
  b.start(new FrameBatch(16, 2048, 64), (batch) => { // fewer slots than datagrams: a GRO message spans batches
    for (let i = 0; i < batch.count; i++) got.push(readSlot(batch, i));
  });
  const min = a.sourcePorts!.min;
  const sizes: [number, number][] = [];
  for (let k = 0; k < 30; k++) sizes.push([1000, min + 3]);
  sizes.push([400, min + 3]);
  for (let k = 0; k < 5; k++) sizes.push([200, min + 9]);
  sizes.push([100, min - 1]);
  const slab = Buffer.alloc(sizes.length * 2048);
  const list = new SendList(sizes.length);
  sizes.forEach(([size, src], k) => pushDatagram(a, slab, list, k, size, LOOPBACK, b.localPort, src));
  const sent = a.send(slab, list);
  await until(() => got.length >= sizes.length - 1, 3000);
  await sleep(50);
  const status = [...list.status.subarray(0, list.count)];
  const out = { ok: true, sent, status, got, min, count: a.sourcePorts!.count, offload: a.offload, rxOffload: b.offload, txStats: a.stats, rxStats: b.stats };
  a.close();
  b.close();
  return out;
}

/**
 * UDP GSO where the kernel refuses a send (the test makes the segments
 * larger than the path MTU: EMSGSIZE). Three sends of `count` datagrams:
 * 1000 bytes (refused, sent again one datagram per message), 1000 bytes
 * again (over the limit learned from the refusal: sent one per message up
 * front), then 500 bytes (within the path MTU: one GSO send). GSO stays on;
 * the counters after each send are returned.
 */
async function gsoFallback(srcIp: string, dstIp: string, dstPort: string, count: string): Promise<object> {
  const a = BatchUdpPort.open({ bindIp: srcIp, port: 0, srcIp, offload: true });
  const errors: { code: string; fatal: boolean }[] = [];
  a.onError = (err, fatal) => errors.push({ code: err.code, fatal });
  const gsoBefore = { ...a.offload.gso };
  const n = Number(count);
  const slab = Buffer.alloc(3 * n * 2048);
  const list = new SendList(3 * n);
  const dst = dstIp.split('.').reduce((acc, p) => ((acc << 8) | Number(p)) >>> 0, 0);
  const srcPort = a.sourcePorts!.min + 5;
  const sent: number[] = [];
  const gso: unknown[] = [];
  for (const [i, size] of [1000, 1000, 500].entries()) {
    list.count = 0;
    for (let k = i * n; k < (i + 1) * n; k++) pushDatagram(a, slab, list, k, size, dst, Number(dstPort), srcPort);
    sent.push(a.send(slab, list));
    gso.push(a.stats.gso);
  }
  const out = { ok: true, sent, srcPort, gsoBefore, gsoAfter: a.offload.gso, errors, gso, stats: a.stats };
  a.close();
  return out;
}

/**
 * Well-formed GSO sends the kernel refuses (EINVAL: test/tools/sock-no-check.py
 * sets SO_NO_CHECK on the pool sockets of source ports min .. min + 3, and
 * the kernel refuses GSO without a UDP checksum). Three sends over loopback:
 * 10 refused runs of 4 datagrams, each followed by an accepted run from
 * another port (GSO stays on); 8 refused runs in a row (GSO goes off, said
 * once); 4 runs to the refusing ports again (no GSO any more: sent one
 * datagram per message, nothing refused). The counters after each send.
 */
async function gsoRefused(tool: string): Promise<object> {
  const a = BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0, offload: true });
  const b = BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0, offload: true });
  const errors: { code: string; fatal: boolean; message: string }[] = [];
  a.onError = (err, fatal) => errors.push({ code: err.code, fatal, message: err.message });
  const got: [number, number, number, number, boolean][] = [];
  b.start(new FrameBatch(64, 2048, 64), (batch) => {
    for (let i = 0; i < batch.count; i++) got.push(readSlot(batch, i));
  });
  const min = a.sourcePorts!.min;
  const fds = (a as unknown as { pool: { fds: Int32Array } }).pool.fds;
  const { execFileSync } = await import('node:child_process');
  execFileSync('python3', [tool, String(process.pid), ...[0, 1, 2, 3].map((i) => String(fds[i]))]);
  const slab = Buffer.alloc(128 * 2048);
  const list = new SendList(128);
  let k = 0;
  const run = (srcPort: number, size: number): void => {
    for (let j = 0; j < 4; j++) pushDatagram(a, slab, list, k++, size, LOOPBACK, b.localPort, srcPort);
  };
  const steps: { sent: number; gso: unknown; state: unknown }[] = [];
  const step = (fill: () => void): void => {
    list.count = 0;
    k = 0;
    fill();
    steps.push({ sent: a.send(slab, list), gso: a.stats.gso, state: { ...a.offload.gso } });
  };
  let total = 0;
  step(() => { for (let i = 0; i < 10; i++) { run(min + (i % 4), 500); run(min + 10 + i, 600); } });
  total += list.count;
  step(() => { for (let i = 0; i < 8; i++) run(min + (i % 4), 700); });
  total += list.count;
  step(() => { for (let i = 0; i < 4; i++) run(min + i, 800); });
  total += list.count;
  await until(() => got.length >= total, 3000);
  await sleep(50);
  const out = { ok: true, steps, errors, total, received: got.length, sizes: got.map((g) => g[0]), txStats: a.stats };
  a.close();
  b.close();
  return out;
}

/**
 * A super-frame kept whole (FrameBatch.keepWhole, as the 'tap-vnet-whole'
 * reader leaves it) and a plain datagram, sent with UDP GSO from the pool:
 * the receiver must get, behind the VXLAN header, exactly the segments
 * tapSegment cuts from that super-frame. `refused`: the super-frame goes to
 * the loopback's broadcast address (EACCES for each segment), the plain
 * datagram after it to the receiver.
 */
async function wholeSend(refused = false): Promise<object> {
  const addon = loadAddon();
  const a = BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0, offload: true });
  const b = BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0, offload: true });
  const got: string[] = [];
  b.start(new FrameBatch(16, 2048, 64), (batch) => {
    for (let i = 0; i < batch.count; i++) got.push(batch.slab.toString('hex', batch.frameStart(i), batch.frameStart(i) + batch.sizes[i]!));
  });
  const payload = Buffer.alloc(3 * MSS + 500);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 13 + 1) & 0xff;
  const frame = superFrame(payload, 0x7ffffc00, 0x18); // ACK|PSH
  // What the segments must be: the reader's own cutter, on the same super-frame.
  const cut = { slab: Buffer.alloc(4 * 2048), sizes: new Uint32Array(4) };
  const segs = addon.tapSegment(Buffer.concat([vnetHdr(1, 1, MSS, L4, 16, HDR), frame]), cut.slab, 2048, 64, cut.sizes, 4);
  const vxlanHdr = Buffer.from('0800000000002a00', 'hex'); // I flag, VNI 42
  const want = [...Array(segs).keys()].map((j) => Buffer.concat([vxlanHdr, cut.slab.subarray(j * 2048 + 64, j * 2048 + 64 + cut.sizes[j]!)]).toString('hex'));

  const fb = new FrameBatch(2, 2048, 64);
  fb.keepWhole(1);
  frame.copy(fb.aux!, 0);
  fb.whole!.set([0, frame.length, MSS, segs], 0);
  const src = a.sourcePorts!.min + 1;
  const list = new SendList(2);
  list.wholeFrom = fb;
  // Slot 0: segment 0 behind UDP + VXLAN headers, as the pipeline leaves it.
  const off = fb.frameStart(0);
  cut.slab.copy(fb.slab, off, 64, 64 + cut.sizes[0]!);
  vxlanHdr.copy(fb.slab, off - 8);
  fb.slab.writeUInt16BE(src, off - 16);
  fb.slab.writeUInt16BE(b.localPort, off - 14);
  fb.slab.writeUInt16BE(16 + cut.sizes[0]!, off - 12);
  fb.slab.writeUInt16BE(0, off - 10);
  list.pushAddr(off - 16, 16 + cut.sizes[0]!, refused ? LO_BROADCAST : LOOPBACK, b.localPort, src);
  list.wholeOf[0] = 0;
  // Slot 1: a plain datagram after it.
  pushDatagram(a, fb.slab, list, 1, 200, LOOPBACK, b.localPort, src);
  const plain = fb.slab.toString('hex', fb.frameStart(1), fb.frameStart(1) + 200);
  const sent = a.send(fb.slab, list);
  const status = [...list.status.subarray(0, list.count)];
  await until(() => got.length >= (refused ? 1 : segs + 1), 3000);
  await sleep(50);
  const out = { ok: true, sent, status, eacces: constants.errno.EACCES, segs, want, plain, got, rx: b.stats, tx: a.stats };
  a.close();
  b.close();
  return out;
}

/** A plain dgram receiver: prints {ready, port} first, then the datagrams it got. */
async function recvPlain(count: string): Promise<object> {
  const n = Number(count);
  const s = dgram.createSocket('udp4');
  const got: { port: number; addr: string; size: number; k: number }[] = [];
  s.on('message', (msg, rinfo) => got.push({ port: rinfo.port, addr: rinfo.address, size: msg.length, k: msg.readUInt16BE(0) }));
  await new Promise<void>((resolve) => s.bind(0, '0.0.0.0', resolve));
  process.stdout.write(`${JSON.stringify({ ready: true, port: s.address().port })}\n`);
  await until(() => got.length >= n, 10000);
  s.close();
  return { ok: true, got };
}

/** Reader stopped mid-stream: close() inside the first onBatch of a burst that needs five. */
async function stopMid(impl: Impl): Promise<object> {
  const a = await openPort(impl, '127.0.0.1', 0);
  const b = await openPort(impl, '127.0.0.1', 0);
  let calls = 0;
  b.start(new FrameBatch(4, 2048, 64), () => {
    calls++;
    b.close();
    b.close();
  });
  const slab = Buffer.alloc(20 * 2048);
  const list = new SendList(20);
  for (let k = 0; k < 20; k++) pushDatagram(a, slab, list, k, 100, LOOPBACK, b.localPort, 43000 + k);
  a.send(slab, list);
  await sleep(200);
  a.send(slab, list);
  await sleep(100);
  a.close();
  a.close();
  // No process.exit(): the parent checks that the process ends by itself.
  return { ok: true, calls };
}

/** Opening the raw send socket without CAP_NET_RAW (run as nobody): EPERM. */
async function rawEperm(): Promise<object> {
  try {
    BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0 }).close();
    return { ok: true };
  } catch (err) {
    return { ...errorJson(err), isSystemError: err instanceof SystemError, sysErrno: (err as SystemError).errno };
  }
}

/** In a Worker: a reader left running (or stopped just now, its handle still closing), then wait to be terminated. */
function workerReader(stopFirst: boolean): void {
  const port = BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0 });
  port.start(new FrameBatch(4, 2048, 64), () => undefined);
  if (stopFirst) port.stop();
  parentPort!.postMessage('reading');
  setInterval(() => undefined, 1000); // keep the worker alive until terminate()
}

/**
 * Environments that end with a reader's handle open: Workers terminated with
 * a running reader and with one whose handle is still closing, then the
 * process itself exiting with process.exit() while a reader runs. Before the
 * async cleanup hook, the first one crashed (the handle's close callback ran
 * after Node had unloaded the addon from the Worker).
 */
async function teardown(): Promise<void> {
  const codes: number[] = [];
  for (const argv of [['worker-reader'], ['worker-reader', 'stop']]) {
    const w = new Worker(__filename, { argv });
    await once(w, 'message');
    codes.push(await w.terminate());
  }
  const port = BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0 });
  port.start(new FrameBatch(4, 2048, 64), () => undefined);
  process.stdout.write(`${JSON.stringify({ ok: true, workerExitCodes: codes })}\n`);
  process.exit(0);
}

async function main(): Promise<void> {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'worker-reader') return workerReader(args[0] === 'stop');
  if (cmd === 'teardown') return teardown();
  const impl = (args[0] ?? 'batch') as Impl;
  let result: object;
  try {
    switch (cmd) {
      case 'exchange': result = await exchange(impl); break;
      case 'truncate': result = await truncate(impl); break;
      case 'addr-in-use': result = await addrInUse(impl); break;
      case 'skip-unreachable': result = await skipUnreachable(); break;
      case 'send-status': result = await sendStatus(args[0] ?? ''); break;
      case 'send-raw': result = await sendRaw(args[0]!, args[1]!, args[2]!, args[3]!); break;
      case 'recv-plain': result = await recvPlain(args[0]!); break;
      case 'stop-mid': result = await stopMid(impl); break;
      case 'raw-eperm': result = await rawEperm(); break;
      case 'gso-exchange': result = await gsoExchange(); break;
      case 'whole-send': result = await wholeSend(args[0] === 'refused'); break;
      case 'gso-fallback': result = await gsoFallback(args[0]!, args[1]!, args[2]!, args[3]!); break;
      case 'gso-refused': result = await gsoRefused(args[0]!); break;
      default: throw new Error(`unknown command ${cmd}`);
    }
  } catch (err) {
    result = { ...errorJson(err), isSystemError: err instanceof SystemError, sysErrno: (err as SystemError).errno };
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

void main();
