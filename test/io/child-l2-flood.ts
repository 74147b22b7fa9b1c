/**
 * Runs inside a test namespace (started by l2-flood.test.ts through `ip
 * netns exec`): `node child-l2-flood.js <pool|raw|dgram>`, one JSON line.
 * Not a test file itself.
 *
 * An L2-mode Switch (TAP in memory, a real UDP port) floods a batch to three
 * VTEPs on loopback (127.0.0.2-4, one UDP port: the segment's), so that the
 * copies of one frame are consecutive send-list entries on one span with
 * different destinations: what each receiver got is returned.
 */
import * as dgram from 'node:dgram';
import { once } from 'node:events';
import { MemoryFramePort } from '../../src/io/fake';
import type { DatagramPort } from '../../src/io/port';
import { BatchUdpPort } from '../../src/io/udp-batch';
import { DgramUdpPort } from '../../src/io/udp-dgram';
import { Switch } from '../../src/switch/switch';
import { macKeyFromString, parseIpv4 } from '../../src/wire/addr';
import { ipv4Frame } from '../helpers/frames';
import { errorJson, until } from './frames';

const VTEPS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const LOCAL = '02:00:00:00:01:01';

async function flood(impl: string): Promise<object> {
  // Three receivers on one port: the first picks it, the others share it on their own addresses.
  const receivers: dgram.Socket[] = [];
  const got: Record<string, { hex: string; srcPort: number; from: string }[]> = {};
  let port = 0;
  for (const ip of VTEPS) {
    const s = dgram.createSocket('udp4');
    s.bind(port, ip);
    await once(s, 'listening');
    port = s.address().port;
    got[ip] = [];
    s.on('message', (m, r) => got[ip]!.push({ hex: m.toString('hex'), srcPort: r.port, from: r.address }));
    receivers.push(s);
  }
  const net: DatagramPort & { close(): void } = impl === 'dgram'
    ? await DgramUdpPort.open({ bindIp: '127.0.0.1', port: 0 })
    : BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0, offload: impl === 'pool' });
  const tap = new MemoryFramePort('l2flood');
  const sw = new Switch({ vni: 42, tap, net, mtu: 1450, batchSize: 8, mode: 'l2', l2: { port } });
  for (const ip of VTEPS) sw.floodList.add(parseIpv4(ip), port);
  sw.fdb.set(macKeyFromString('02:00:00:00:03:03'), parseIpv4('127.0.0.3'), port);
  sw.start();
  const frames = [
    ipv4Frame('ff:ff:ff:ff:ff:ff', LOCAL, '10.0.0.1', '10.0.0.255', 17, 1000, 2000, 60), // broadcast
    ipv4Frame('ff:ff:ff:ff:ff:ff', LOCAL, '10.0.0.1', '10.0.0.255', 17, 1001, 2000, 300), // another flow, another length
    ipv4Frame('02:00:00:00:03:03', LOCAL, '10.0.0.1', '10.0.0.3', 17, 1002, 2000, 100), // unicast, an FDB hit
    ipv4Frame('02:00:00:00:09:09', LOCAL, '10.0.0.1', '10.0.0.9', 17, 1003, 2000, 1000), // unknown unicast
  ];
  tap.inject(frames);
  await until(() => Object.values(got).reduce((n, g) => n + g.length, 0) >= 10, 3000);
  const out = {
    ok: true, port, got, frames: frames.map((f) => f.toString('hex')),
    counters: sw.counters.snapshot(), offload: net instanceof BatchUdpPort ? net.offload : null, stats: net.stats,
    writesUdpHeader: net.writesUdpHeader,
  };
  sw.close();
  for (const s of receivers) s.close();
  return out;
}

void (async () => {
  let result: object;
  try {
    result = await flood(process.argv[2] ?? 'pool');
  } catch (err) {
    result = { ok: false, ...errorJson(err) };
  }
  process.stdout.write(JSON.stringify(result) + '\n');
})();
