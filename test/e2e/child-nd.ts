/**
 * Runs inside a test namespace (started by nd-kernel.test.ts through
 * `ip netns exec`): the Linux kernel's IPv6 stack on one side of a TAP, the
 * ND responder on the other. Prints one JSON line with what it saw. Not a
 * test file itself.
 */
import { execFileSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { FrameBatch, SendList } from '../../src/io/port';
import { TapPort } from '../../src/io/tap';
import { ND_MALFORMED, ND_MISS, answerNsInPlace } from '../../src/switch/nd-responder';
import { NdTable } from '../../src/switch/nd-table';
import { macKeyFromString } from '../../src/wire/addr';
import * as ethernet from '../../src/wire/ethernet';
import * as icmpv6 from '../../src/wire/icmpv6';
import * as ipv6 from '../../src/wire/ipv6';
import { errorJson, sleep, until } from '../io/frames';

const TAP = 'vxnd0';
const PEER_MAC = '02:60:00:00:00:02';

function sh(...args: string[]): string {
  return execFileSync(args[0]!, args.slice(1), { encoding: 'utf8' });
}

interface Neigh { dst: string; lladdr?: string; state?: string[] }

function neigh(addr: string): Neigh | undefined {
  return (JSON.parse(sh('ip', '-6', '-j', 'neigh', 'show', addr, 'dev', TAP)) as Neigh[])[0];
}

function send(addr: string): void {
  const s = dgram.createSocket('udp6');
  s.send(Buffer.from('nd test'), 9, addr, () => s.close());
}

async function main(): Promise<object> {
  // No router solicitations or DAD on the TAP: the frames on it are ours to count.
  sh('sysctl', '-qw', 'net.ipv6.conf.default.router_solicitations=0', 'net.ipv6.conf.default.dad_transmits=0');
  const port = TapPort.open(TAP);
  sh('ip', 'link', 'set', TAP, 'up');
  sh('ip', '-6', 'addr', 'add', 'fd60::1/64', 'dev', TAP, 'nodad');
  // A probe right when an entry goes stale and is used (RFC 4861 DELAY_FIRST_PROBE_TIME, 5 s by default).
  sh('sysctl', '-qw', `net.ipv6.neigh.${TAP}.delay_first_probe_time=1`);

  const table = new NdTable();
  table.set('fd60::2', macKeyFromString(PEER_MAC));
  const seen = { multicastNs: 0, unicastNs: 0, answered: 0, missed: 0, malformed: 0, written: 0, udpToPeerMac: 0, udpToOther: 0 };
  const batch = new FrameBatch(16, 2048, 64);
  const list = new SendList(16);
  port.start(batch, (b) => {
    list.count = 0;
    for (let i = 0; i < b.count; i++) {
      const off = b.frameStart(i);
      const len = b.sizes[i]!;
      const l3 = off + ethernet.l3Offset(b.slab, off);
      if (ethernet.etherType(b.slab, off) !== ethernet.ETHERTYPE_IPV6) continue;
      const nh = ipv6.nextHeader(b.slab, l3);
      if (nh === ipv6.NH_ICMPV6 && b.slab[l3 + ipv6.HEADER_LEN] === icmpv6.TYPE_NEIGHBOR_SOLICITATION) {
        if (ipv6.isMulticastAddr(b.slab, l3 + ipv6.field.DST)) seen.multicastNs++;
        else seen.unicastNs++;
      }
      if (nh === ipv6.NH_UDP) {
        if (ethernet.dstKey(b.slab, off) === macKeyFromString(PEER_MAC)) seen.udpToPeerMac++;
        else seen.udpToOther++;
      }
      const r = answerNsInPlace(b.slab, off, len, l3, b.slotSize - b.headroom, table);
      if (r > 0) {
        seen.answered++;
        list.push(off, r);
      } else if (r === ND_MISS) seen.missed++;
      else if (r === ND_MALFORMED) seen.malformed++;
    }
    if (list.count > 0) seen.written += port.write(b.slab, list);
  });

  // 1. Address resolution: a multicast NS, answered; the datagram then goes to the peer's MAC.
  send('fd60::2');
  await until(() => seen.udpToPeerMac >= 1, 5000);
  const resolved = neigh('fd60::2');
  // 2. Reachability: the entry made stale and used again gets a unicast NS (a probe), answered.
  sh('ip', '-6', 'neigh', 'change', 'fd60::2', 'lladdr', PEER_MAC, 'dev', TAP, 'nud', 'stale');
  send('fd60::2');
  await until(() => seen.unicastNs >= 1 && seen.answered >= 2, 5000);
  await until(() => (neigh('fd60::2')?.state ?? []).includes('REACHABLE'), 2000);
  const probed = neigh('fd60::2');
  // 3. A miss: nobody answers for fd60::9; the kernel gives up after its solicitations.
  send('fd60::9');
  await until(() => seen.missed >= 1, 5000);
  await sleep(100);
  const missed = neigh('fd60::9');
  port.close();
  return {
    ok: true, seen,
    resolved: { lladdr: resolved?.lladdr, state: resolved?.state },
    probed: { lladdr: probed?.lladdr, state: probed?.state },
    missed: { lladdr: missed?.lladdr ?? null },
  };
}

main().then((r) => console.log(JSON.stringify(r)), (err: unknown) => {
  console.log(JSON.stringify(errorJson(err)));
  process.exitCode = 1;
});
