/**
 * Runs inside a test namespace (started by packet-capture.test.ts through
 * `ip netns exec`): captures UDP port 4789 on `lo` with UnderlayCapture while
 * sending datagrams to 4789 and to 4790, then prints one JSON line with
 * what the recorder's file holds. Not a test file itself.
 */
import * as dgram from 'node:dgram';
import { readFileSync, rmSync } from 'node:fs';
import { UnderlayCapture } from '../../src/io/packet-capture';
import { PcapRecorder } from '../../src/io/pcap-port';
import { readPcapng } from '../../src/io/pcapng';
import { errorJson, sleep, until } from './frames';

async function main(): Promise<object> {
  const path = `/tmp/vxt-pktcap-${process.pid}.pcapng`;
  const rec = PcapRecorder.open(path, { tapName: 'none', underlay: { name: 'lo', localMac: null, ttl: 64, df: false } });
  const before = Date.now() * 1000;
  let cap: UnderlayCapture;
  try {
    cap = UnderlayCapture.open('lo', 4789, rec);
  } catch (err) {
    // Without CAP_NET_RAW: the file the recorder opened goes too.
    rec.close();
    rmSync(path, { force: true });
    throw err;
  }
  const sink = dgram.createSocket('udp4');
  sink.bind(4789, '127.0.0.1');
  const other = dgram.createSocket('udp4');
  other.bind(4790, '127.0.0.1');
  await Promise.all([new Promise((r) => sink.once('listening', r)), new Promise((r) => other.once('listening', r))]);
  const tx = dgram.createSocket('udp4');
  const sizes = [10, 100, 1000];
  for (const n of sizes) {
    await new Promise<void>((r) => tx.send(Buffer.alloc(n, n & 0xff), 4789, '127.0.0.1', () => r()));
    await new Promise<void>((r) => tx.send(Buffer.alloc(n, 1), 4790, '127.0.0.1', () => r()));
  }
  // Each datagram to 4789 passes lo twice: sent (outgoing) and received (host).
  await until(() => cap.frames >= 2 * sizes.length, 3000);
  await sleep(100);
  const after = Date.now() * 1000;
  cap.close();
  cap.close();
  rec.close();
  for (const s of [sink, other, tx]) s.close();
  const f = readPcapng(readFileSync(path));
  rmSync(path, { force: true });
  return {
    ok: true,
    frames: cap.frames,
    interfaces: f.interfaces.map((i) => [i.name, i.description]),
    packets: f.packets.map((p) => ({
      iface: p.iface, flags: p.flags, comment: p.comment, len: p.data.length, origLen: p.origLen,
      dport: p.data.readUInt16BE(14 + 20 + 2), udpLen: p.data.readUInt16BE(14 + 20 + 4), fill: p.data[14 + 28] ?? -1,
      inWindow: p.tsSec * 1e6 + p.tsUsec >= before - 1000 && p.tsSec * 1e6 + p.tsUsec <= after + 1000,
    })),
  };
}

main().then((r) => console.log(JSON.stringify(r)), (err: unknown) => { console.log(JSON.stringify(errorJson(err))); process.exitCode = 1; });
