/**
 * Runs inside a test namespace (started by tap.test.ts through
 * `ip netns exec`): one scenario per invocation, `node child-tap.js <cmd> ...`,
 * printing one JSON line with what it saw. Not a test file itself.
 */
import { execFileSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { readFileSync, rmSync } from 'node:fs';
import { SystemError } from '../../src/errors';
import { constants } from 'node:os';
import { FrameBatch, SendList } from '../../src/io/port';
import { readCapture } from '../../src/io/pcapng';
import { PcapFramePort, PcapRecorder } from '../../src/io/pcap-port';
import { TapPort } from '../../src/io/tap';
import { loadAddon } from '../../src/io/native';
import * as csum from '../../src/wire/checksum';
import { parseIpv4 } from '../../src/wire/addr';
import { errorJson, ifaceMac, macBytes, parseFrame, sleep, until, writeEchoRequest } from './frames';
import { l4Frame, type CsumState } from './l4-frames';

const MARK = 0xa5;

function sh(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8' });
}

function noIpv6(): void {
  // Keep the kernel's own IPv6 frames (RS, MLD, DAD) off the TAPs.
  sh('sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
}

/** TAP up with addr/24 and a permanent neighbor `peer` at `peerMac`. */
function setUp(name: string, addr: string, peer: string, peerMac: string): void {
  sh('ip', 'addr', 'add', `${addr}/24`, 'dev', name);
  sh('ip', 'link', 'set', name, 'up');
  sh('ip', 'neigh', 'replace', peer, 'lladdr', peerMac, 'dev', name, 'nud', 'permanent');
}

function fdFlags(fd: number): { nonblock: boolean; cloexec: boolean } {
  const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
  const flags = parseInt(/flags:\s*([0-7]+)/.exec(info)![1]!, 8);
  return { nonblock: (flags & 0o4000) !== 0, cloexec: (flags & 0o2000000) !== 0 };
}

function rxPackets(name: string): number {
  const j = JSON.parse(sh('ip', '-s', '-j', 'link', 'show', name)) as { stats64: { rx: { packets: number } } }[];
  return j[0]!.stats64.rx.packets;
}

/** Sends n UDP datagrams of `size` bytes to dst:port from one socket, all in one event-loop turn. */
function burst(dst: string, port: number, n: number, size: number | ((k: number) => number)): Promise<dgram.Socket> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, () => {
      for (let k = 0; k < n; k++) s.send(Buffer.alloc(typeof size === 'number' ? size : size(k), k), port, dst);
      resolve(s);
    });
  });
}

async function open(name: string): Promise<object> {
  const port = TapPort.open(name);
  const exists = sh('ip', '-j', 'link', 'show', port.name).includes(`"${port.name}"`);
  const out = { ok: true, name: port.name, fd: port.fd, ...fdFlags(port.fd), exists };
  port.close();
  return out;
}

async function busy(name: string): Promise<object> {
  const first = TapPort.open(name);
  try {
    TapPort.open(name);
    return { ok: true };
  } catch (err) {
    return { ...errorJson(err), isSystemError: err instanceof SystemError, sysErrno: (err as SystemError).errno };
  } finally {
    first.close();
  }
}

/** The batched read: 50 datagrams through a /24 with a static neighbor reach the TAP at once. */
async function readBurst(): Promise<object> {
  noIpv6();
  const port = TapPort.open('vt0');
  setUp('vt0', '10.9.0.1', '10.9.0.2', '02:00:00:00:00:02');
  const batch = new FrameBatch(16, 2048, 64);
  batch.slab.fill(MARK);
  const batches: number[] = [];
  let udp = 0;
  let sizesOk = true;
  let headroomOk = true;
  port.start(batch, (b) => {
    batches.push(b.count);
    for (let i = 0; i < b.count; i++) {
      const slot = i * b.slotSize;
      for (let j = 0; j < b.headroom; j++) if (b.slab[slot + j] !== MARK) headroomOk = false;
      const f = parseFrame(b.slab, b.frameStart(i), b.sizes[i]!);
      if (f.proto === 17 && f.dstPort === 9999) {
        udp++;
        if (b.sizes[i] !== 14 + 20 + 8 + 100 || f.udpLen !== 108) sizesOk = false;
      }
    }
  });
  const sock = await burst('10.9.0.2', 9999, 50, 100);
  await until(() => udp >= 50, 3000);
  sock.close();
  const frames = batches.reduce((a, b) => a + b, 0);
  port.close();
  return { ok: true, udp, frames, batches, sizesOk, headroomOk, truncated: port.stats.rxTruncated };
}

/** Frames longer than a slot are dropped and counted; the others arrive. */
async function truncate(): Promise<object> {
  noIpv6();
  const port = TapPort.open('vt2');
  setUp('vt2', '10.9.2.1', '10.9.2.2', '02:00:00:00:00:02');
  const batch = new FrameBatch(8, 128, 16); // 112 bytes per frame
  const sizes: number[] = [];
  port.start(batch, (b) => {
    for (let i = 0; i < b.count; i++) {
      const f = parseFrame(b.slab, b.frameStart(i), b.sizes[i]!);
      if (f.dstPort === 9999) sizes.push(b.sizes[i]!);
    }
  });
  // 42 + 70 = 112 bytes fits exactly; 42 + 71 does not.
  const sock = await burst('10.9.2.2', 9999, 4, (k) => [10, 71, 70, 200][k]!);
  await until(() => sizes.length >= 2 && port.stats.rxTruncated >= 2, 2000);
  await sleep(50);
  sock.close();
  port.close();
  return { ok: true, sizes, truncated: port.stats.rxTruncated };
}

/** The batched write: ICMP echo requests written into the TAP; the kernel counts and answers them. */
async function writeEcho(): Promise<object> {
  noIpv6();
  const port = TapPort.open('vt1');
  const peerMac = '02:00:00:00:00:02';
  const slab = Buffer.alloc(8 * 256);
  const list = new SendList(8);
  const headroom = 50;
  const tapMac = ifaceMac('vt1');
  const frame = (k: number, seq: number): void => {
    const start = k * 256 + headroom;
    const len = writeEchoRequest(slab, start, {
      dstMac: tapMac, srcMac: macBytes(peerMac), srcIp: '10.9.1.2', dstIp: '10.9.1.1', id: 0x1234, seq, payload: 56,
    });
    list.push(start, len);
  };

  // While the link is down the kernel refuses each frame (a drop, not an exception).
  frame(0, 100);
  const writtenWhileDown = port.write(slab, list);
  const downStats = port.stats;

  setUp('vt1', '10.9.1.1', '10.9.1.2', peerMac);
  const replies: number[] = [];
  const batch = new FrameBatch(16, 2048, 0);
  port.start(batch, (b) => {
    for (let i = 0; i < b.count; i++) {
      const f = parseFrame(b.slab, b.frameStart(i), b.sizes[i]!);
      if (f.proto === 1 && f.icmpType === 0 && f.icmpId === 0x1234) replies.push(f.icmpSeq!);
    }
  });
  const rxBefore = rxPackets('vt1');
  list.count = 0;
  for (let seq = 1; seq <= 5; seq++) frame(seq - 1, seq);
  list.push(7 * 256, 5); // a runt: refused alone, the batch goes on
  frame(6, 6);
  const written = port.write(slab, list);
  await until(() => replies.length >= 6, 3000);
  const rxAfter = rxPackets('vt1');
  port.close();
  return {
    ok: true, writtenWhileDown, downError: downStats.lastTxError, written, count: list.count,
    stats: port.stats, rxDelta: rxAfter - rxBefore, replies: replies.sort((a, b) => a - b),
  };
}

/**
 * A TAP with offloads (IFF_VNET_HDR, TSO4 + checksum): UDP frames the kernel
 * leaves with a partial checksum come out finished; written frames (with
 * their zeroed virtio_net_hdr) are taken and answered; a TUNSETOFFLOAD the
 * kernel refuses returns its errno name; without the option the TAP is plain.
 */
async function offload(): Promise<object> {
  noIpv6();
  const plain = TapPort.open('vo0');
  const plainState = plain.offload;
  plain.close();
  const port = TapPort.open('vo1', { offload: true });
  const refused = loadAddon().tapSetOffload(port.fd, 0x40000000);
  const peerMac = '02:00:00:00:00:02';
  setUp('vo1', '10.9.2.1', '10.9.2.2', peerMac);
  const replies: number[] = [];
  const udp: boolean[] = [];
  const batch = new FrameBatch(4, 2048, 64);
  port.start(batch, (b) => {
    for (let i = 0; i < b.count; i++) {
      const at = b.frameStart(i);
      const f = parseFrame(b.slab, at, b.sizes[i]!);
      if (f.proto === 1 && f.icmpType === 0 && f.icmpId === 0x4321) replies.push(f.icmpSeq!);
      if (f.proto === 17) {
        const l4 = at + 14 + ((b.slab[at + 14]! & 0x0f) << 2);
        const len = b.slab.readUInt16BE(l4 + 4);
        udp.push(b.slab.readUInt16BE(l4 + 6) !== 0 &&
          csum.verify(b.slab, l4, len, csum.pseudoHeaderSumIpv4(parseIpv4('10.9.2.1'), parseIpv4('10.9.2.2'), 17, len)));
      }
    }
  });
  const slab = Buffer.alloc(4 * 256);
  const list = new SendList(4);
  const tapMac = ifaceMac('vo1');
  for (let seq = 1; seq <= 3; seq++) {
    const start = (seq - 1) * 256 + 64;
    list.push(start, writeEchoRequest(slab, start, { dstMac: tapMac, srcMac: macBytes(peerMac), srcIp: '10.9.2.2', dstIp: '10.9.2.1', id: 0x4321, seq, payload: 56 }));
  }
  const written = port.write(slab, list);
  const sock = await burst('10.9.2.2', 9999, 10, (k) => 100 + 37 * k);
  await until(() => replies.length >= 3 && udp.length >= 10, 3000);
  sock.close();
  const stats = port.stats;
  port.close();
  return {
    ok: true, plain: plainState, offload: port.offload, refused, written, replies: replies.sort((a, b) => a - b),
    udp: udp.length, udpChecksumsOk: udp.every((x) => x), csumCompleted: stats.offload?.csumCompleted ?? -1,
  };
}

/** The kernel's InCsumErrors counters of this namespace (/proc/net/snmp). */
function csumErrors(): { udp: number; tcp: number } {
  const rows = readFileSync('/proc/net/snmp', 'utf8').split('\n');
  const get = (proto: string): number => {
    const [names, values] = rows.filter((r) => r.startsWith(`${proto}:`)).map((r) => r.split(/\s+/));
    return Number(values![names!.indexOf('InCsumErrors')]);
  };
  return { udp: get('Udp'), tcp: get('Tcp') };
}

/**
 * Frames with partial, wrong, finished and absent checksums written to a TAP
 * (`mode` plain: finished in the addon; offload: NEEDS_CSUM), as vxtap's
 * decap writes what a kernel vxlan peer sent across a veth: which ones the
 * kernel's stack takes (a UDP socket, a TCP listener's SYN-ACK), which it
 * drops for their checksum (InCsumErrors), and the port's csumRepaired.
 */
async function partialCsum(mode: string): Promise<object> {
  noIpv6();
  const port = TapPort.open('vp1', { offload: mode === 'offload' });
  const peerMac = '02:00:00:00:00:02';
  setUp('vp1', '10.9.3.1', '10.9.3.2', peerMac);
  const got: string[] = [];
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m) => got.push(m.toString()));
  await new Promise<void>((resolve) => sock.bind(9000, '10.9.3.1', () => resolve()));
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(9001, '10.9.3.1', () => resolve()));
  const synAcks: number[] = [];
  port.start(new FrameBatch(8, 2048, 64), (b) => {
    for (let i = 0; i < b.count; i++) {
      const at = b.frameStart(i);
      const f = parseFrame(b.slab, at, b.sizes[i]!);
      const l4 = at + 14 + 20;
      if (f.proto === 6 && b.slab[l4 + 13] === 0x12) synAcks.push(b.slab.readUInt16BE(l4 + 2));
    }
  });
  const mac = { dstMac: [...ifaceMac('vp1')].map((x) => x.toString(16).padStart(2, '0')).join(':'), srcMac: peerMac };
  const udp = (csum: CsumState): Buffer =>
    l4Frame({ ...mac, proto: 'udp', src: '10.9.3.2', dst: '10.9.3.1', sport: 40000, dport: 9000, payload: Buffer.from(csum), csum }).frame;
  const syn = (sport: number, csum: CsumState): Buffer =>
    l4Frame({ ...mac, proto: 'tcp', src: '10.9.3.2', dst: '10.9.3.1', sport, dport: 9001, payload: Buffer.alloc(0), flags: 0x02, seq: 1, csum }).frame;
  // The wrong ones first: once the later ones have arrived, the kernel has dealt with these.
  const frames = [udp('bad'), syn(40001, 'bad'), udp('partial'), syn(40002, 'partial'), udp('finished'), udp('none')];
  const slab = Buffer.alloc(frames.length * 256);
  const list = new SendList(frames.length);
  frames.forEach((f, k) => { f.copy(slab, k * 256 + 64); list.push(k * 256 + 64, f.length); });
  const before = csumErrors();
  const written = port.write(slab, list);
  await until(() => got.length >= 3 && synAcks.length >= 1, 3000);
  const after = csumErrors();
  const stats = port.stats;
  port.close();
  sock.close();
  server.close();
  return {
    ok: true, offload: port.offload.enabled, written, udp: got.sort(), synAcks,
    csumErrors: { udp: after.udp - before.udp, tcp: after.tcp - before.tcp }, csumRepaired: stats.csumRepaired,
  };
}

/**
 * Per-entry results through the real addon (issue #10): a batch of [a 5-byte
 * runt, a 60-byte echo request, another] written to a TAP (`mode` plain, or
 * offload: the coalescing writev path). The kernel refuses the runt (EINVAL)
 * and takes the two after it; the write returns 2, which read as "the first
 * two" blames the wrong frame. Written again through the pcap middleware:
 * which frames the pcap records as written, and which the kernel answers.
 */
async function writeStatus(mode: string): Promise<object> {
  noIpv6();
  const offload = mode === 'offload';
  const tap = TapPort.open('vw1', { offload });
  const peerMac = '02:00:00:00:00:02';
  setUp('vw1', '10.9.6.1', '10.9.6.2', peerMac);
  const tapMac = ifaceMac('vw1');
  const replies: number[] = [];
  tap.start(new FrameBatch(8, 2048, 64), (b) => {
    for (let i = 0; i < b.count; i++) {
      const f = parseFrame(b.slab, b.frameStart(i), b.sizes[i]!);
      if (f.proto === 1 && f.icmpType === 0 && f.icmpId === 0x5151) replies.push(f.icmpSeq!);
    }
  });
  const slab = Buffer.alloc(3 * 256);
  const list = new SendList(3);
  const fill = (seqs: [number, number]): void => {
    list.count = 0;
    list.status.fill(-1); // a status the port did not fill would show
    slab.fill(0);
    const runt = Buffer.from([1, 2, 3, 4, 5]);
    runt.copy(slab, 64);
    list.push(64, runt.length);
    seqs.forEach((seq, i) => {
      const at = (i + 1) * 256 + 64;
      // 14 + 20 + 8 + 18 = 60 bytes: the minimum Ethernet frame without FCS.
      list.push(at, writeEchoRequest(slab, at, { dstMac: tapMac, srcMac: macBytes(peerMac), srcIp: '10.9.6.2', dstIp: '10.9.6.1', id: 0x5151, seq, payload: 18 }));
    });
  };

  // 1. The port alone.
  fill([1, 2]);
  const lens = [...list.lens.subarray(0, list.count)];
  const written = tap.write(slab, list);
  const status = [...list.status.subarray(0, list.count)];
  const portStats = { txSkipped: tap.stats.txSkipped, lastTxError: tap.stats.lastTxError };

  // 2. Through the pcap middleware: it records what the port took.
  const pcapPath = `/tmp/vxt-write-status-${process.pid}.pcap`;
  const rec = PcapRecorder.open(pcapPath);
  fill([3, 4]);
  const viaPcap = new PcapFramePort(tap, rec).write(slab, list);
  rec.close();
  const pcapWritten = readCapture(readFileSync(pcapPath)).packets.map((r) =>
    (r.data.length < 14 ? `runt ${r.data.length}` : `echo ${parseFrame(r.data, 0, r.data.length).icmpSeq!}`));
  rmSync(pcapPath, { force: true });
  await until(() => replies.length >= 4, 3000);
  tap.close();
  return {
    ok: true, offload: tap.offload.enabled, lens, written, status, einval: constants.errno.EINVAL, portStats,
    viaPcap, pcapWritten, replies: replies.sort((a, b) => a - b),
  };
}

/** Stopping mid-stream: inside onBatch (close), and from outside while frames keep coming (stop). */
async function stopMid(): Promise<object> {
  noIpv6();
  // A: close() inside the first onBatch of a burst that needs several batches.
  const a = TapPort.open('vt3');
  setUp('vt3', '10.9.3.1', '10.9.3.2', '02:00:00:00:00:02');
  let callsA = 0;
  a.start(new FrameBatch(4, 2048, 0), () => {
    callsA++;
    a.close();
    a.close();
  });
  const s1 = await burst('10.9.3.2', 9999, 20, 64);
  await sleep(200);
  s1.close();

  // B: stop() from a timer while a flood goes on, then more frames, then close twice.
  const b = TapPort.open('vt4');
  setUp('vt4', '10.9.4.1', '10.9.4.2', '02:00:00:00:00:02');
  let callsB = 0;
  b.start(new FrameBatch(4, 2048, 0), () => { callsB++; });
  const s2 = dgram.createSocket('udp4');
  const flood = setInterval(() => s2.send(Buffer.alloc(64), 9999, '10.9.4.2'), 1);
  await until(() => callsB >= 3, 2000);
  b.stop();
  const callsAtStop = callsB;
  await sleep(200);
  const callsAfterStop = callsB;
  b.close();
  b.close();
  clearInterval(flood);
  s2.close();
  // No process.exit(): the parent checks that the process ends by itself.
  return { ok: true, callsA, callsAtStop, callsAfterStop, fdAfterClose: b.fd };
}

/** The device is deleted under a running reader: a fatal error reaches onError, and the reader stops. */
async function deleted(): Promise<object> {
  sh('ip', 'tuntap', 'add', 'dev', 'vtd0', 'mode', 'tap');
  const port = TapPort.open('vtd0');
  const errors: { errno: string; syscall: string; fatal: boolean; isSystemError: boolean }[] = [];
  port.onError = (err, fatal) => errors.push({ errno: err.errno, syscall: err.syscall, fatal, isSystemError: err instanceof SystemError });
  let calls = 0;
  port.start(new FrameBatch(4, 2048, 0), () => { calls++; });
  sh('ip', 'link', 'del', 'vtd0');
  await until(() => errors.length > 0, 2000);
  await sleep(100);
  port.close();
  return { ok: true, errors, calls };
}

/** onBatch throws: the exception reaches the process ('uncaughtException'), not the void. */
async function throwInBatch(): Promise<object> {
  noIpv6();
  const port = TapPort.open('vt5');
  setUp('vt5', '10.9.5.1', '10.9.5.2', '02:00:00:00:00:02');
  const caught: string[] = [];
  process.on('uncaughtException', (err) => caught.push(err.message));
  let calls = 0;
  port.start(new FrameBatch(4, 2048, 0), () => {
    calls++;
    throw new Error(`boom ${calls}`);
  });
  const s = await burst('10.9.5.2', 9999, 3, 64);
  await until(() => caught.length > 0, 2000);
  await sleep(50);
  s.close();
  port.close();
  return { ok: true, caught: caught.slice(0, 1), calls: calls > 0 };
}

/** Opens (attaches to) a TAP and writes one frame; run as an unprivileged user. */
async function attach(name: string): Promise<object> {
  const port = TapPort.open(name);
  const out = { ok: true, uid: process.getuid?.(), name: port.name };
  port.close();
  return out;
}

async function main(): Promise<void> {
  const [cmd, arg = ''] = process.argv.slice(2);
  let result: object;
  try {
    switch (cmd) {
      case 'open': result = await open(arg); break;
      case 'busy': result = await busy(arg); break;
      case 'read-burst': result = await readBurst(); break;
      case 'truncate': result = await truncate(); break;
      case 'write-echo': result = await writeEcho(); break;
      case 'stop-mid': result = await stopMid(); break;
      case 'attach': result = await attach(arg); break;
      case 'deleted': result = await deleted(); break;
      case 'throw-in-batch': result = await throwInBatch(); break;
      case 'offload': result = await offload(); break;
      case 'partial-csum': result = await partialCsum(arg); break;
      case 'write-status': result = await writeStatus(arg); break;
      default: throw new Error(`unknown command ${cmd}`);
    }
  } catch (err) {
    result = { ...errorJson(err), isSystemError: err instanceof SystemError, sysErrno: (err as SystemError).errno };
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

void main();
