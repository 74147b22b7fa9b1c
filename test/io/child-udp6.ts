/**
 * Runs inside a test namespace (started by udp6.test.ts through
 * `ip netns exec`): the UDP port over IPv6, one scenario per invocation,
 * `node child-udp6.js <cmd> ...`, printing one JSON line. Not a test file.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { AF_INET6, EP_RECORD, recordFamily } from '../../src/io/endpoints';
import { FrameBatch, SendList } from '../../src/io/port';
import { BatchUdpPort } from '../../src/io/udp-batch';
import { formatVtep, vtepKey } from '../../src/io/vtep-key';
import { SystemError } from '../../src/errors';
import { errorJson, sleep, until } from './frames';

const UDP6_SEND = path.join(__dirname, '..', '..', '..', 'test', 'tools', 'udp6-send.py');

/** Udp6InCsumErrors and Udp6InErrors from /proc/net/snmp6 (this namespace). */
function snmp6(): { csumErrors: number; inErrors: number } {
  const t = readFileSync('/proc/net/snmp6', 'utf8');
  const get = (name: string): number => Number(new RegExp(`^${name}\\s+(\\d+)`, 'm').exec(t)?.[1] ?? NaN);
  return { csumErrors: get('Udp6InCsumErrors'), inErrors: get('Udp6InErrors') };
}

/**
 * A sends n datagrams to B over ::1 in one send(): a run of equal sizes (one
 * GSO message with offloads) and then sizes of their own. B reports each
 * datagram's size, sender family, key and port, and whether its bytes came intact.
 */
async function exchange(offload: boolean): Promise<object> {
  const a = BatchUdpPort.open({ bindIp: '::1', port: 0, rcvbuf: 1 << 20, sndbuf: 1 << 20, offload });
  const b = BatchUdpPort.open({ bindIp: '::1', port: 0, rcvbuf: 1 << 20, sndbuf: 1 << 20, offload });
  const self = vtepKey('::1');
  const n = 40;
  const got: { size: number; family: number; key: string; port: number; k: number; intact: boolean }[] = [];
  b.start(new FrameBatch(64, 2048, 64), (batch) => {
    for (let i = 0; i < batch.count; i++) {
      const off = batch.frameStart(i);
      const size = batch.sizes[i]!;
      const k = batch.slab.readUInt16BE(off);
      let intact = true;
      for (let j = 2; j < size; j++) if (batch.slab[off + j] !== (k & 0xff)) intact = false;
      got.push({ size, family: recordFamily(batch.names, i * EP_RECORD), key: formatVtep(batch.senderKey(i)), port: batch.senderPort(i), k, intact });
    }
  });
  const slab = Buffer.alloc(n * 2048);
  const list = new SendList(n);
  const ports = a.sourcePorts!;
  for (let k = 0; k < n; k++) {
    const size = k < 20 ? 1000 : 50 + k * 20;
    const payload = k * 2048 + 64;
    slab.fill(k & 0xff, payload, payload + size);
    slab.writeUInt16BE(k, payload);
    const srcPort = ports.min; // one source port: the equal-sized run is one GSO message
    slab.writeUInt16BE(srcPort, payload - 8);
    slab.writeUInt16BE(b.localPort, payload - 6);
    slab.writeUInt16BE(size + 8, payload - 4);
    slab.writeUInt16BE(0, payload - 2);
    list.pushAddr(payload - 8, size + 8, self, b.localPort, srcPort);
  }
  const sent = a.send(slab, list);
  await until(() => got.length >= n, 3000);
  const out = {
    ok: true, sent, got, srcPorts: ports, offload: a.offload, gsoA: a.stats.gso ?? null, groB: b.stats.gro ?? null,
    stats: { rxTruncated: b.stats.rxTruncated, rxErrors: b.stats.rxErrors, txSkipped: a.stats.txSkipped },
  };
  a.close();
  b.close();
  return out;
}

/**
 * A raw sender (test/tools/udp6-send.py) sends B one datagram with a zero
 * UDP checksum and one with the right one: the kernel (UDP_NO_CHECK6_RX off,
 * its default) drops the first before B can read it, and counts it.
 */
async function zeroChecksum(): Promise<object> {
  const b = BatchUdpPort.open({ bindIp: '::1', port: 0, offload: true });
  const got: string[] = [];
  b.start(new FrameBatch(8, 2048, 64), (batch) => {
    for (let i = 0; i < batch.count; i++) got.push(batch.slab.subarray(batch.frameStart(i), batch.frameStart(i) + batch.sizes[i]!).toString());
  });
  const before = snmp6();
  const send = (mode: string, text: string): unknown =>
    JSON.parse(execFileSync('python3', [UDP6_SEND, '::1', '::1', '50000', String(b.localPort), mode, Buffer.from(text).toString('hex')], { encoding: 'utf8' }));
  const zero = send('zero', 'zero-checksum');
  const good = send('good', 'good-checksum');
  await until(() => got.length >= 1, 3000);
  await sleep(100);
  const after = snmp6();
  const out = { ok: true, zero, good, got, csumErrors: after.csumErrors - before.csumErrors, inErrors: after.inErrors - before.inErrors, rxErrors: b.stats.rxErrors };
  b.close();
  return out;
}

/** A port whose bind and source addresses are not one family is refused before any socket opens. */
function mixed(): object {
  try {
    BatchUdpPort.open({ bindIp: '::', port: 0, srcIp: '127.0.0.1' });
    return { ok: true };
  } catch (err) {
    return errorJson(err);
  }
}

async function main(): Promise<void> {
  const [cmd, ...args] = process.argv.slice(2);
  let result: object;
  try {
    switch (cmd) {
      case 'exchange': result = await exchange(args[0] === 'offload'); break;
      case 'zero-csum': result = await zeroChecksum(); break;
      case 'mixed': result = mixed(); break;
      default: throw new Error(`unknown command ${cmd}`);
    }
  } catch (err) {
    result = { ...errorJson(err), isSystemError: err instanceof SystemError, family: AF_INET6 };
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

void main();
