/**
 * The IPv6 overlay in routed mode (issue #13, part 2), end to end with real
 * parts: namespaces, TAPs, two vxtap daemons and the kernel's vxlan device,
 * all over the IPv4 underlay.
 *
 *              underlay bridge (ns vxt-v6o-u), 192.168.90.0/24
 *        +----------------------+----------------------+
 *     h1 .1 (vxtap)          h2 .2 (vxtap)          k .3 (kernel vxlan)
 *     10.46.1.0/24           10.46.2.0/24           10.46.3.0/24
 *     fd46:0:0:1::/64        fd46:0:0:2::/64        fd46:0:0:3::/64
 *
 * The kernel host is set up as flannel sets up flannel-v6.<VNI> (address
 * `<subnet6>::/128`, a permanent NDP entry, an FDB entry and `<subnet6> via
 * <subnet6>:: onlink` per peer), but on its IPv4 device: two kernel vxlan
 * devices cannot share a VNI and port on one address, and flannel's own
 * second device needs an IPv6 underlay, which is another part of the issue.
 * What it proves is the wire format: IPv6 frames in VXLAN between vxtap and
 * the kernel, both ways.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needCommand, needNamespaces, waitFor } from '../helpers/netns';
import { Daemon } from '../helpers/daemon';
import { EtcdServer, needEtcd } from '../helpers/etcd';
import { tcpTransfer } from '../helpers/tcp';
import { nsFrame } from '../helpers/frames';
import { macFromIp } from '../../src/control/peers';
import * as ethernet from '../../src/wire/ethernet';
import * as ipv6 from '../../src/wire/ipv6';

const VNI = 42;
const PORT = 4789;
const TAP = `vxtap.${VNI}`;
const HOSTS = { h1: '192.168.90.1', h2: '192.168.90.2', k: '192.168.90.3' } as const;
type Host = keyof typeof HOSTS;
const SUBNET = { h1: '10.46.1.0', h2: '10.46.2.0', k: '10.46.3.0' } as const;
const SUBNET6 = { h1: 'fd46:0:0:1::', h2: 'fd46:0:0:2::', k: 'fd46:0:0:3::' } as const;
const ETCD_IP = '192.168.90.100';
const ENDPOINT = `http://${ETCD_IP}:2379`;
const PREFIX = '/coreos.com/network';

function ping(lab: Lab, from: Host, to: string): void {
  const out = lab.exec(from, ['ping', '-c', '3', '-i', '0.2', '-W', '2', to]);
  assert.match(out, / 0% packet loss/, `ping ${from} -> ${to}:\n${out}`);
}

/** Every host pings every other host's VTEP address, IPv4 and IPv6. */
function pingAll(lab: Lab, v4: Record<Host, string> = SUBNET, v6: Record<Host, string> = SUBNET6): void {
  for (const from of Object.keys(HOSTS) as Host[]) {
    for (const to of Object.keys(HOSTS) as Host[]) {
      if (from === to) continue;
      ping(lab, from, v4[to]);
      ping(lab, from, v6[to]);
    }
  }
}

/** The kernel host's vxlan device (one, for both families), with its own addresses. Returns its MAC. */
function kernelDevice(lab: Lab): string {
  lab.exec('k', ['ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', String(VNI), 'dstport', String(PORT), 'local', HOSTS.k, 'dev', 'eth0', 'nolearning']);
  lab.exec('k', ['ip', 'link', 'set', 'vx0', 'mtu', '1450', 'up']);
  lab.exec('k', ['ip', 'addr', 'add', `${SUBNET.k}/32`, 'dev', 'vx0']);
  lab.exec('k', ['ip', '-6', 'addr', 'add', `${SUBNET6.k}/128`, 'dev', 'vx0', 'nodad']);
  return (JSON.parse(lab.exec('k', ['ip', '-j', 'link', 'show', 'vx0'])) as { address: string }[])[0]!.address;
}

/** What flannel installs on the kernel host per remote host, for both families. */
function kernelPeer(lab: Lab, ip: string, subnet: string, subnet6: string, mac: string): void {
  lab.exec('k', ['ip', 'neigh', 'replace', subnet, 'lladdr', mac, 'dev', 'vx0', 'nud', 'permanent']);
  lab.exec('k', ['ip', '-6', 'neigh', 'replace', subnet6, 'lladdr', mac, 'dev', 'vx0', 'nud', 'permanent']);
  lab.exec('k', ['bridge', 'fdb', 'append', mac, 'dev', 'vx0', 'dst', ip]);
  lab.exec('k', ['ip', 'route', 'replace', `${subnet}/24`, 'via', subnet, 'dev', 'vx0', 'onlink']);
  lab.exec('k', ['ip', '-6', 'route', 'replace', `${subnet6}/64`, 'via', subnet6, 'dev', 'vx0', 'onlink']);
}

function peersFile(dir: string, self: 'h1' | 'h2', kernelMac: string): string {
  const other = self === 'h1' ? 'h2' : 'h1';
  const path = join(dir, `${self}.json`);
  writeFileSync(path, JSON.stringify({
    vni: VNI,
    port: PORT,
    self: { subnet: `${SUBNET[self]}/24`, subnet6: `${SUBNET6[self]}/64` },
    peers: [
      { subnet: `${SUBNET[other]}/24`, publicIp: HOSTS[other], subnet6: `${SUBNET6[other]}/64` },
      { subnet: `${SUBNET.k}/24`, publicIp: HOSTS.k, vtepMac: kernelMac, subnet6: `${SUBNET6.k}/64` },
    ],
  }));
  return path;
}

/** Runs `fn` with tcpdump writing h1's underlay (VXLAN) to a file; returns the file. */
async function captureUnderlay(lab: Lab, dir: string, fn: () => Promise<void> | void): Promise<string> {
  const file = join(dir, 'h1-underlay.pcap');
  const dump = lab.spawn('h1', ['tcpdump', '-i', 'eth0', '-n', '-U', '-w', file, 'udp', 'port', String(PORT)]);
  let err = '';
  dump.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  await waitFor('tcpdump listening', () => err.includes('listening on'), 10000, 50);
  try {
    await fn();
  } finally {
    dump.kill('SIGINT');
    await new Promise<void>((resolve) => { if (dump.exitCode !== null) resolve(); else dump.once('exit', () => resolve()); });
  }
  return file;
}

/** The inner ICMPv6 types in a capture of VXLAN (tshark decodes UDP 4789 as VXLAN), one per frame that has one. */
function innerIcmpv6Types(lab: Lab, file: string): number[] {
  const out = lab.exec('h1', ['tshark', '-r', file, '-n', '-Y', 'icmpv6', '-T', 'fields', '-e', 'icmpv6.type']);
  return out.split('\n').filter(Boolean).map((l) => Number(l.split(',')[0]));
}

/** Writes one raw Ethernet frame into h1's TAP from the kernel side, as the kernel's own transmit would. */
function sendOnTap(lab: Lab, frame: Buffer): void {
  lab.exec('h1', ['python3', '-c',
    'import socket,sys\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\ns.bind((sys.argv[1],0))\ns.send(bytes.fromhex(sys.argv[2]))', TAP, frame.toString('hex')]);
}

async function dualStackChecks(t: TestContext, lab: Lab, dir: string, d1: Daemon, d2: Daemon): Promise<void> {
  await t.test('the TAP has <subnet6>::/128 and one proto-118 onlink route per dual-stack peer; no static NDP entries', () => {
    const addrs = lab.exec('h1', ['ip', '-6', '-o', 'addr', 'show', 'dev', TAP]);
    assert.match(addrs, /inet6 fd46:0:0:1::\/128 scope global/);
    const routes = lab.exec('h1', ['ip', '-6', 'route', 'show', 'dev', TAP, 'proto', '118']);
    assert.match(routes, /fd46:0:0:2::\/64 via fd46:0:0:2:: .*onlink/);
    assert.match(routes, /fd46:0:0:3::\/64 via fd46:0:0:3:: .*onlink/);
    assert.doesNotMatch(lab.exec('h1', ['ip', '-6', 'neigh', 'show', 'dev', TAP, 'nud', 'permanent']), /fd46/, 'ND is answered in user space');
  });

  await t.test('IPv4 and IPv6 pings between every pair (vxtap-vxtap, vxtap-kernel both ways); no NS for a peer\'s address crosses the underlay', async () => {
    const before = await d1.stats();
    // A fresh neighbour cache, so that the kernel asks again while the capture runs.
    lab.exec('h1', ['ip', '-6', 'neigh', 'flush', 'dev', TAP]);
    const file = await captureUnderlay(lab, dir, () => pingAll(lab));
    const types = innerIcmpv6Types(lab, file);
    assert.ok(types.includes(128) && types.includes(129), `the capture holds the IPv6 echoes (so it sees inner ICMPv6): ${types.join(',')}`);
    assert.deepEqual(types.filter((x) => x === 135 || x === 136), [], 'no Neighbor Solicitation or Advertisement in VXLAN on h1\'s underlay');
    const after = await d1.stats();
    assert.ok((after['ndAnswered'] as number) > (before['ndAnswered'] as number), `h1 answered the NS itself: ${String(before['ndAnswered'])} -> ${String(after['ndAnswered'])}`);
  });

  await t.test('TCP over IPv6: 20 MiB vxtap -> kernel host and back arrive intact (SHA-256)', async () => {
    await tcpTransfer(lab, 'h1', 'k', SUBNET6.k, 20);
    await tcpTransfer(lab, 'k', 'h1', SUBNET6.h1, 20);
  });

  await t.test('TCP over IPv6 between the vxtap hosts: 20 MiB intact', async () => {
    await tcpTransfer(lab, 'h2', 'h1', SUBNET6.h1, 20);
  });

  await t.test('a malformed NS from the TAP (bad ICMPv6 checksum) is an nd-malformed drop; an NS for an unknown address an nd-miss', async () => {
    const before = (await d1.stats()).drops;
    const bad = nsFrame(macFromIp(HOSTS.h1), SUBNET6.h1, SUBNET6.h2);
    bad[ethernet.HEADER_LEN + ipv6.HEADER_LEN + 2]! ^= 0x5a;
    sendOnTap(lab, bad);
    sendOnTap(lab, nsFrame(macFromIp(HOSTS.h1), SUBNET6.h1, 'fd46:0:0:9::'));
    await waitFor('the drops counted', async () => {
      const now = (await d1.stats()).drops;
      return (now['nd-malformed'] ?? 0) > (before['nd-malformed'] ?? 0) && (now['nd-miss'] ?? 0) > (before['nd-miss'] ?? 0);
    }, 10000, 200);
    ping(lab, 'h1', SUBNET6.h2); // and the daemon goes on
  });
  void d2;
}

test('IPv6 overlay: two vxtap hosts and a kernel vxlan host, dual-stack, over the IPv4 underlay', { timeout: 600_000 }, async (t) => {
  if (!needNamespaces(t)) return;
  if (!needCommand(t, 'tcpdump', 'tcpdump') || !needCommand(t, 'tshark', 'tshark') || !needEtcd(t)) return;
  const lab = new Lab('vxt-v6o-');
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-v6o-'));
  let etcd: EtcdServer | null = null;
  try {
    const underlay: Record<string, string> = { ...Object.fromEntries(Object.entries(HOSTS).map(([h, ip]) => [h, `${ip}/24`])), e: `${ETCD_IP}/24` };
    lab.underlay('u', underlay);
    for (const h of Object.keys(underlay)) lab.exec(h, ['ip', 'route', 'add', 'default', 'dev', 'eth0']);
    const kernelMac = kernelDevice(lab);
    for (const h of ['h1', 'h2'] as const) kernelPeer(lab, HOSTS[h], SUBNET[h], SUBNET6[h], macFromIp(HOSTS[h]));

    await t.test('static peers files with self.subnet6 and the peers\' subnet6', async (t: TestContext) => {
      const d1 = new Daemon(lab, 'h1', ['--peers', peersFile(dir, 'h1', kernelMac)]);
      const d2 = new Daemon(lab, 'h2', ['--peers', peersFile(dir, 'h2', kernelMac)]);
      try {
        await Promise.all([d1.up(), d2.up()]);
        await dualStackChecks(t, lab, dir, d1, d2);
      } finally {
        const codes = await Promise.all([d1.stop(), d2.stop()]);
        assert.deepEqual(codes, [0, 0], `clean exits:\n${d1.dump()}\n${d2.dump()}`);
      }
      assert.equal(lab.exec('h1', ['ip', '-6', 'route', 'show', 'proto', '118']).trim(), '', 'the IPv6 routes went with the daemon');
    });

    await t.test('through a real etcd: the kernel host\'s dual-stack lease written by etcdctl in flannel\'s form, two vxtap hosts leasing dual-stack (--public-ipv6)', async () => {
      etcd = new EtcdServer({ netns: lab.ns('e'), host: ETCD_IP, clientPort: 2379 });
      await etcd.start();
      await etcd.ctl(['put', `${PREFIX}/config`, JSON.stringify({
        Network: '10.46.0.0/16', SubnetLen: 24, EnableIPv6: true, IPv6Network: 'fd46::/48', IPv6SubnetLen: 64,
        Backend: { Type: 'vxlan', VNI, Port: PORT },
      })]);
      // A fresh kernel device: the static part's per-peer entries go with the old one.
      lab.exec('k', ['ip', 'link', 'del', 'vx0']);
      const kmac = kernelDevice(lab);
      // flannel's dual-stack lease (docs/ipv6-control.md): key `<ip4>-<len>&<ip6>-<len>`, BackendV6Data naming
      // the MAC of the device that carries IPv6 (here the same device: one VNI and port per address).
      await etcd.ctl(['put', `${PREFIX}/subnets/${SUBNET.k}-24&${SUBNET6.k}-64`, JSON.stringify({
        PublicIP: HOSTS.k, PublicIPv6: 'fd90::3', BackendType: 'vxlan',
        BackendData: { VNI, VtepMAC: kmac }, BackendV6Data: { VNI, VtepMAC: kmac },
      })]);
      const d = {
        h1: new Daemon(lab, 'h1', ['--etcd-endpoints', ENDPOINT, '--subnet-file', join(dir, 'h1.env'), '--public-ipv6', 'fd90::1']),
        h2: new Daemon(lab, 'h2', ['--etcd-endpoints', ENDPOINT, '--subnet-file', join(dir, 'h2.env'), '--public-ipv6', 'fd90::2']),
      };
      try {
        await Promise.all([d.h1.up(), d.h2.up()]);
        // The leases as etcd holds them: key and value lines, one after the other.
        const lines = (await etcd.ctl(['get', '--prefix', `${PREFIX}/subnets/`])).split('\n').filter(Boolean);
        const v4: Record<string, string> = { k: SUBNET.k };
        const v6: Record<string, string> = { k: SUBNET6.k };
        for (let i = 0; i + 1 < lines.length; i += 2) {
          const m = /subnets\/([\d.]+)-(\d+)&([0-9a-f:]+)-(\d+)$/.exec(lines[i]!);
          assert.ok(m, `a dual-stack key: ${lines[i]!}`);
          const value = JSON.parse(lines[i + 1]!) as { PublicIP: string; PublicIPv6: string; BackendData: { VtepMAC: string }; BackendV6Data?: { VtepMAC: string } };
          const host = (Object.keys(HOSTS) as Host[]).find((h) => HOSTS[h] === value.PublicIP)!;
          if (host === 'k') continue;
          assert.equal(value.BackendV6Data?.VtepMAC, value.BackendData.VtepMAC, 'one TAP for both families');
          v4[host] = m[1]!;
          v6[host] = m[3]!;
          // What flannel on k does with a dual-stack lease: both families' neighbour, FDB and route.
          kernelPeer(lab, value.PublicIP, m[1]!, m[3]!, value.BackendData.VtepMAC);
        }
        assert.ok(v6['h1'] !== undefined && v6['h2'] !== undefined, `both vxtap hosts leased dual-stack:\n${lines.join('\n')}`);
        for (const h of ['h1', 'h2'] as const) {
          assert.match(lab.exec(h, ['ip', '-6', '-o', 'addr', 'show', 'dev', TAP]), new RegExp(`inet6 ${v6[h]!}/128`));
          assert.match(readFileSync(join(dir, `${h}.env`), 'utf8'), /FLANNEL_IPV6_SUBNET=/);
        }
        await waitFor('every vxtap host routes IPv6 to the two others', () => (['h1', 'h2'] as const).every((h) =>
          (Object.keys(HOSTS) as Host[]).filter((o) => o !== h).every((o) => lab.exec(h, ['ip', '-6', 'route', 'show', 'dev', TAP, 'proto', '118']).includes(`${v6[o]!}/64 via ${v6[o]!}`))), 10000, 200);
        pingAll(lab, v4 as Record<Host, string>, v6 as Record<Host, string>);
        await tcpTransfer(lab, 'k', 'h2', v6['h2']!, 20);
      } finally {
        const codes = await Promise.all([d.h1.stop(), d.h2.stop()]);
        assert.deepEqual(codes, [0, 0], `clean exits:\n${d.h1.dump()}\n${d.h2.dump()}`);
      }
    });
  } finally {
    await (etcd as EtcdServer | null)?.stop();
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
