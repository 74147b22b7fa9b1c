/**
 * Suite 8, the UDP send through the addon on loopback: what one send() of
 * BatchUdpPort costs, crossing and kernel together (one op = one send()).
 * The 8 destinations are loopback sockets with the addon's drop-all filter
 * (udpOpen sendOnly), so the kernel drops each datagram at the socket, cheaply,
 * and sends no ICMP. Needs root (the raw socket, the *FORCE buffer options).
 *
 *   raw 1 / raw 32   the raw socket (`--no-offload`: udpSend, one sendmmsg)
 *   gso 1 / gso 32   the GSO pool (the default: PoolSend, runs to one VTEP
 *                    from one source port as one UDP_SEGMENT message)
 *
 * 32 datagrams of 1400 bytes go to the 8 VTEPs in runs of 4 (one flow per
 * VTEP); the 1-datagram cases show the per-call cost, where the crossing
 * (arguments read, arrays checked) weighs most against the kernel's work.
 */
import { add } from 'benny';
import { loadAddon } from '../../src/io/native';
import { SendList } from '../../src/io/port';
import { BatchUdpPort } from '../../src/io/udp-batch';
import { parseIpv4 } from '../../src/wire/addr';
import { main, runSuite, sink, type Case } from './common';

export const SUITE = 'udp';
export const CASES = {
  raw1: 'raw socket (udpSend): 1 datagram per send',
  raw32: 'raw socket (udpSend): 32 datagrams to 8 VTEPs per send',
  gso1: 'GSO pool (PoolSend): 1 datagram per send',
  gso32: 'GSO pool (PoolSend): 32 datagrams to 8 VTEPs per send',
} as const;

const SIZE = 1400;
const VTEPS = 8;
const LOOPBACK = parseIpv4('127.0.0.1');

interface Rig {
  port: BatchUdpPort;
  slab: Buffer;
  one: SendList;
  many: SendList;
  close(): void;
}

function rig(offload: boolean): Rig {
  const addon = loadAddon();
  const sinks = Array.from({ length: VTEPS }, () => addon.udpOpen('127.0.0.1', 0, { sendOnly: true }));
  const ports = sinks.map((fd) => addon.localPort(fd));
  const port = BatchUdpPort.open({ bindIp: '127.0.0.1', port: 0, offload, sndbuf: 1 << 22 });
  const min = port.sourcePorts?.min ?? 49152;
  const slab = Buffer.alloc(32 * 2048);
  const fill = (list: SendList, n: number): void => {
    for (let k = 0; k < n; k++) {
      const start = k * 2048;
      const v = Math.floor(k / 4) % VTEPS;
      slab.writeUInt16BE(min + v, start); // the UDP header the raw socket sends as it is (checksum 0)
      slab.writeUInt16BE(ports[v]!, start + 2);
      slab.writeUInt16BE(SIZE, start + 4);
      slab.writeUInt16BE(0, start + 6);
      list.pushAddr(start, SIZE, LOOPBACK, ports[v]!, min + v);
    }
  };
  const one = new SendList(1);
  fill(one, 1);
  const many = new SendList(32);
  fill(many, 32);
  return {
    port, slab, one, many,
    close: () => {
      port.close();
      for (const fd of sinks) addon.close(fd);
    },
  };
}

const rigs: Rig[] = [];

function sendOp(offload: boolean, big: boolean): () => void {
  const r = rig(offload);
  rigs.push(r);
  const list = big ? r.many : r.one;
  return () => {
    sink.n += r.port.send(r.slab, list);
  };
}

export function cases(): Case[] {
  return [
    add(CASES.raw1, () => sendOp(false, false)),
    add(CASES.raw32, () => sendOp(false, true)),
    add(CASES.gso1, () => sendOp(true, false)),
    add(CASES.gso32, () => sendOp(true, true)),
  ];
}

export async function run(): Promise<unknown> {
  try {
    return await runSuite(SUITE, 'udp: BatchUdpPort.send on loopback, one send() per op', 'batch', cases());
  } finally {
    for (const r of rigs) r.close();
  }
}

if (require.main === module) main(run);
