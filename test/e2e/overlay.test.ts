/**
 * End to end, with real parts only: network namespaces, TAP devices, the
 * vxtap daemon as users run it (bin/vxtap.js run --peers FILE), and the Linux
 * kernel's own vxlan device as the reference peer.
 *
 *              underlay bridge (ns vxt-e2e-u), 192.168.90.0/24
 *        +-------------------+-------------------+-------------------+
 *     h1 .1 (vxtap)       h2 .2 (vxtap)      h3 .3 (kernel vxlan)  x .9 (stranger)
 *     10.44.1.0/24        10.44.2.0/24       10.44.3.0/24
 *
 * The kernel host is configured exactly as flannel's vxlan backend does it:
 * `ip link add … type vxlan id VNI dstport PORT nolearning`, address
 * <subnet>.0/32, one `ip neigh` + `bridge fdb append` + onlink route per host.
 * Interop with it in both directions is the proof that our wire format is right.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needNamespaces, run } from '../helpers/netns';
import { Daemon, TOOLS } from '../helpers/daemon';
import { tcpTransfer } from '../helpers/tcp';
import { macFromIp } from '../../src/control/peers';

const VNI = 42;
const PORT = 4789;
const HOSTS = { h1: '192.168.90.1', h2: '192.168.90.2', h3: '192.168.90.3', x: '192.168.90.9' } as const;
const SUBNET = { h1: '10.44.1.0', h2: '10.44.2.0', h3: '10.44.3.0' } as const;
const TAP = `vxtap.${VNI}`;

function ping(lab: Lab, from: string, to: string): void {
  const out = lab.exec(from, ['ping', '-c', '3', '-i', '0.2', '-W', '2', to]);
  assert.match(out, / 0% packet loss/, `ping ${from} -> ${to}:\n${out}`);
}

/** The port counters of a daemon that this file checks. */
interface PortCounters {
  tap: { csumRepaired: number };
  udp: { rxTruncated: number; gro?: { messages: number; datagrams: number } };
}
async function portCounters(d: Daemon): Promise<PortCounters> {
  const st = await d.stats();
  return { tap: st['tapPort'] as PortCounters['tap'], udp: st['udpPort'] as PortCounters['udp'] };
}

function peersFile(dir: string, self: 'h1' | 'h2', kernelMac: string): string {
  const other = self === 'h1' ? 'h2' : 'h1';
  const path = join(dir, `${self}.json`);
  writeFileSync(path, JSON.stringify({
    vni: VNI,
    port: PORT,
    self: { subnet: `${SUBNET[self]}/24` },
    peers: [
      { subnet: `${SUBNET[other]}/24`, publicIp: HOSTS[other] }, // no vtepMac: derived from the public IP
      { subnet: `${SUBNET.h3}/24`, publicIp: HOSTS.h3, vtepMac: kernelMac },
    ],
  }));
  return path;
}

/**
 * The kernel peer, as flannel's vxlan backend sets it up, its underlay veth
 * at its default offloads: the inner TCP/UDP checksums it sends stay
 * "partial" (the pseudo-header sum only, for a NIC that a veth does not
 * have), and vxtap finishes them on the way to its TAP (csumRepaired).
 * Returns its VTEP MAC.
 */
function kernelPeer(lab: Lab): string {
  lab.exec('h3', ['ip', 'link', 'add', 'vx0', 'type', 'vxlan', 'id', String(VNI), 'dstport', String(PORT), 'local', HOSTS.h3, 'dev', 'eth0', 'nolearning']);
  lab.exec('h3', ['ip', 'link', 'set', 'vx0', 'mtu', '1450', 'up']);
  lab.exec('h3', ['ip', 'addr', 'add', `${SUBNET.h3}/32`, 'dev', 'vx0']);
  for (const h of ['h1', 'h2'] as const) {
    const mac = macFromIp(HOSTS[h]);
    lab.exec('h3', ['ip', 'neigh', 'replace', SUBNET[h], 'lladdr', mac, 'dev', 'vx0', 'nud', 'permanent']);
    lab.exec('h3', ['bridge', 'fdb', 'append', mac, 'dev', 'vx0', 'dst', HOSTS[h]]);
    lab.exec('h3', ['ip', 'route', 'replace', `${SUBNET[h]}/24`, 'via', SUBNET[h], 'dev', 'vx0', 'onlink']);
  }
  const link = JSON.parse(lab.exec('h3', ['ip', '-j', 'link', 'show', 'vx0'])) as { address: string }[];
  return link[0]!.address;
}

/** Datagrams for the bad-input test: each names the drop reason it must be counted under. */
function badDatagrams(): { fromKnown: Record<string, string[]>; fromStranger: string } {
  const inner = 'ffffffffffff' + '020000000001' + '0800' + '45000014000000004001' + '0000' + '0a2c0201' + '0a2c0100';
  const vx = (flags: string, vni: number) => flags + '000000' + vni.toString(16).padStart(6, '0') + '00';
  return {
    fromKnown: {
      'vxlan-too-short': ['08000000'],                                   // a truncated header
      'vxlan-no-i-flag': [vx('00', VNI) + inner],                        // I flag clear
      'vxlan-unknown-vni': [vx('08', 9) + inner, 'deadbeef'.repeat(10)], // VNI 9; random bytes (0xde has the I bit, VNI 0xdeadbe)
      // From h2, well-formed, but not from h2's VTEP MAC; then from h2's MAC but h3's subnet.
      'inner-spoof': [vx('08', VNI) + inner, vx('08', VNI) + 'ffffffffffff' + macFromIp(HOSTS.h2).replace(/:/g, '') + '0800' + '45000014000000004001' + '0000' + '0a2c0309' + '0a2c0100'],
    },
    fromStranger: vx('08', VNI) + inner,                                  // well-formed, from no known VTEP
  };
}

test('vxtap overlay: two vxtap hosts and a kernel vxlan host', { timeout: 900_000 }, async (t) => {
  if (!needNamespaces(t)) return;
  const lab = new Lab('vxt-e2e-');
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-e2e-'));
  try {
    lab.underlay('u', Object.fromEntries(Object.entries(HOSTS).map(([h, ip]) => [h, `${ip}/24`])));
    for (const h of Object.keys(HOSTS)) lab.exec(h, ['ip', 'route', 'add', 'default', 'dev', 'eth0']);
    const kernelMac = kernelPeer(lab);
    const files = { h1: peersFile(dir, 'h1', kernelMac), h2: peersFile(dir, 'h2', kernelMac) };

    // The two io modes without offloads, then batch with the default: every offload on (TAP TSO4 +
    // checksum with write coalescing, UDP GSO + GRO), so interop is proven both ways.
    const modes = [{ io: 'batch', offload: false }, { io: 'dgram', offload: false }, { io: 'batch', offload: true }] as const;
    for (const { io, offload } of modes) {
      const extra = offload ? [] : ['--no-offload'];
      await t.test(`--io ${io}${offload ? ' (offloads on)' : ' --no-offload'}`, async (t: TestContext) => {
        const d1 = new Daemon(lab, 'h1', ['--peers', files.h1, '--io', io, ...extra]);
        const d2 = new Daemon(lab, 'h2', ['--peers', files.h2, '--io', io, ...extra]);
        let codes: number[] = [];
        try {
          await Promise.all([d1.up(), d2.up()]);

          await t.test('the TAP is set up as flannel sets up its vxlan device', () => {
            const link = (JSON.parse(lab.exec('h1', ['ip', '-j', '-d', 'link', 'show', TAP])) as { address: string; mtu: number; flags: string[] }[])[0]!;
            assert.equal(link.address, macFromIp(HOSTS.h1), 'the TAP MAC is the VTEP MAC');
            assert.equal(link.mtu, 1450, 'underlay MTU 1500 - 50');
            assert.ok(link.flags.includes('UP'));
            const addrs = lab.exec('h1', ['ip', '-4', '-o', 'addr', 'show', 'dev', TAP]);
            assert.match(addrs, /inet 10\.44\.1\.0\/32/);
            const routes = lab.exec('h1', ['ip', 'route', 'show', 'dev', TAP]);
            assert.match(routes, /10\.44\.2\.0\/24 via 10\.44\.2\.0 .*onlink/);
            assert.match(routes, /10\.44\.3\.0\/24 via 10\.44\.3\.0 .*onlink/);
            assert.doesNotMatch(lab.exec('h1', ['ip', 'neigh', 'show', 'dev', TAP, 'nud', 'permanent']), /10\.44/, 'no static neighbour entries: ARP is answered in user space');
          });

          await t.test('ping between the vxtap hosts, both directions', () => {
            ping(lab, 'h1', SUBNET.h2);
            ping(lab, 'h2', SUBNET.h1);
          });

          await t.test('TCP: 50 MiB from h1 to h2 arrive with the same SHA-256', async () => {
            const mbps = await tcpTransfer(lab, 'h1', 'h2', SUBNET.h2, 50);
            t.diagnostic(`vxtap --io ${io}${offload ? '' : ' --no-offload'}: 50 MiB h1 -> h2 at ${mbps.toFixed(0)} Mbit/s (not a benchmark: see bench/)`);
            if (offload) {
              // The offloads were taken, and the stream came as super-frames.
              const st = await d1.stats();
              const tap = st['tap'] as { offload: { enabled: boolean; reason: string } };
              assert.equal(tap.offload.enabled, true, `offloads refused: ${tap.offload.reason}`);
              // With UDP GSO on, they were kept whole through the pipeline and cut at the send.
              const off = (st['tapPort'] as { offload: { gsoFrames: number; segments: number; whole: number; dropped: number } }).offload;
              assert.ok(off.gsoFrames > 0 && off.whole > 0, `no super-frames kept whole: ${JSON.stringify(off)}`);
              assert.equal(off.dropped, 0);
              t.diagnostic(`offload: ${off.gsoFrames} super-frames read, ${off.whole} kept whole to the send`);
              // And on the receiving side the segments went back to the TAP coalesced, and the SHA-256 above still matched.
              const rx = ((await d2.stats())['tapPort'] as { offload: { coalesced: { superFrames: number; segments: number } } }).offload.coalesced;
              assert.ok(rx.superFrames > 0 && rx.segments >= 2 * rx.superFrames, `no segments coalesced on h2: ${JSON.stringify(rx)}`);
              t.diagnostic(`coalesced on h2: ${rx.segments} segments -> ${rx.superFrames} super-frames`);
              // UDP GSO sent the datagrams in runs, and h2's socket took them whole with UDP GRO.
              const udp = st['udp'] as { offload: { gso: { enabled: boolean; reason: string }; gro: { enabled: boolean; reason: string } } };
              assert.equal(udp.offload.gso.enabled, true, `UDP GSO: ${udp.offload.gso.reason}`);
              assert.equal(udp.offload.gro.enabled, true, `UDP GRO: ${udp.offload.gro.reason}`);
              const gro = ((await d2.stats())['udpPort'] as { gro: { messages: number; datagrams: number } }).gro;
              assert.ok(gro.messages > 0 && gro.datagrams > gro.messages, `no GRO messages on h2: ${JSON.stringify(gro)}`);
              t.diagnostic(`UDP GRO on h2: ${gro.datagrams} datagrams in ${gro.messages} messages`);
            }
          });

          if (offload) {
            await t.test('IPv6 TCP across the overlay: TSO6 super-frames cut in the addon, coalesced back on h2, 20 MiB intact', async () => {
              // flannel's overlay is IPv4: these addresses and neighbours are set by hand, so that IPv6 crosses too.
              const v6 = { h1: 'fd00:44::1', h2: 'fd00:44::2' } as const;
              for (const [h, other] of [['h1', 'h2'], ['h2', 'h1']] as const) {
                lab.exec(h, ['ip', '-6', 'addr', 'add', `${v6[h]}/64`, 'dev', TAP, 'nodad']);
                lab.exec(h, ['ip', '-6', 'neigh', 'replace', v6[other], 'lladdr', macFromIp(HOSTS[other]), 'dev', TAP, 'nud', 'permanent']);
              }
              type Off = { gsoFrames: number; dropped: number; coalesced: { superFrames: number } };
              const tapOf = async (d: Daemon): Promise<Off> => ((await d.stats())['tapPort'] as { offload: Off }).offload;
              const [before, rxBefore] = [await tapOf(d1), await tapOf(d2)];
              await tcpTransfer(lab, 'h1', 'h2', v6.h2, 20);
              const [after, rxAfter] = [await tapOf(d1), await tapOf(d2)];
              assert.ok(after.gsoFrames > before.gsoFrames, `no TSO6 super-frames read: ${JSON.stringify(after)}`);
              assert.equal(after.dropped, 0);
              assert.ok(rxAfter.coalesced.superFrames > rxBefore.coalesced.superFrames, `no IPv6 segments coalesced on h2: ${JSON.stringify(rxAfter)}`);
            });
          }

          await t.test('interop with the kernel vxlan device: ping both directions', () => {
            ping(lab, 'h1', SUBNET.h3);
            ping(lab, 'h3', SUBNET.h1);
            ping(lab, 'h3', SUBNET.h2);
          });

          await t.test('interop with the kernel vxlan device at its default offloads: TCP both directions, its partial checksums finished and its super-datagrams cut', async () => {
            const before = await portCounters(d1);
            await tcpTransfer(lab, 'h1', 'h3', SUBNET.h3, 20);
            await tcpTransfer(lab, 'h3', 'h1', SUBNET.h1, 20);
            const after = await portCounters(d1);
            // What h3 sends reaches h1 with partial checksums (its ACKs, its short segments): without the repair, TCP would not connect.
            const repaired = after.tap.csumRepaired - before.tap.csumRepaired;
            assert.ok(repaired > 0, `no partial checksum finished on h1: ${JSON.stringify(after.tap)}`);
            // Its TSO super-frames cross the veth whole, as one datagram each: cut, not truncated.
            assert.equal(after.udp.rxTruncated, before.udp.rxTruncated, `datagrams truncated on h1: ${JSON.stringify(after.udp)}`);
            t.diagnostic(`h1 finished ${repaired} partial checksums from the kernel peer`);
            if (offload) {
              const gro = after.udp.gro!;
              assert.ok(gro.messages > before.udp.gro!.messages, `no super-datagram cut on h1: ${JSON.stringify(gro)}`);
              t.diagnostic(`UDP receive on h1: ${gro.datagrams - before.udp.gro!.datagrams} datagrams cut from ${gro.messages - before.udp.gro!.messages} messages`);
            }
          });

          await t.test(`underlay capture: VNI 42, no ARP on the wire, ${io === 'batch' ? 'source ports vary per flow' : 'source port is the bound port'}`, async () => {
            const pcap = join(dir, `underlay-${io}${offload ? '-offload' : ''}.pcap`);
            const dump = lab.spawn('h1', ['tcpdump', '-i', 'eth0', '--immediate-mode', '-U', '-n', '-w', pcap, 'udp port 4789 or arp']);
            let dumpErr = '';
            dump.stderr!.on('data', (d: Buffer) => { dumpErr += d.toString(); });
            await new Promise<void>((resolve, reject) => {
              const timer = setInterval(() => { if (dumpErr.includes('listening on')) { clearInterval(timer); resolve(); } }, 20);
              dump.once('exit', () => { clearInterval(timer); reject(new Error(`tcpdump: ${dumpErr}`)); });
            });
            const before = await d1.stats();
            // Forget the neighbours, so the kernel must ARP for 10.44.2.0 and 10.44.3.0 again.
            lab.exec('h1', ['ip', 'neigh', 'flush', 'dev', TAP]);
            ping(lab, 'h1', SUBNET.h2);
            ping(lab, 'h1', SUBNET.h3);
            for (let i = 0; i < 6; i++) lab.exec('h1', [process.execPath, join(TOOLS, 'udp-send.js'), SUBNET.h1, SUBNET.h2, '9999', '00'.repeat(20)]);
            const after = await d1.stats();
            assert.ok((after['arpAnswered'] as number) >= (before['arpAnswered'] as number) + 2, 'the ARPs were answered locally');
            await new Promise((r) => setTimeout(r, 300)); // let tcpdump write the last packets
            dump.kill('SIGINT');
            await new Promise<void>((resolve) => dump.once('exit', () => resolve()));
            assert.ok(existsSync(pcap) && statSync(pcap).size > 24, 'tcpdump wrote packets');
            const rows = run('tshark', ['-r', pcap, '-n', '-d', `udp.port==${PORT},vxlan`, '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=f',
              '-e', 'frame.protocols', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'udp.srcport', '-e', 'vxlan.vni', '-e', 'arp.dst.proto_ipv4'])
              .trim().split('\n').map((l) => l.split('|'));
            const vxlan = rows.filter((r) => r[0]!.includes('vxlan'));
            assert.ok(vxlan.length >= 12, `expected VXLAN frames, got ${vxlan.length}`);
            for (const r of vxlan) assert.equal(r[4], String(VNI), `VNI of ${r.join(' ')}`);
            const arpInOverlay = rows.filter((r) => r[0]!.includes('arp') && (r[0]!.includes('vxlan') || (r[5] ?? '').startsWith('10.44.')));
            assert.deepEqual(arpInOverlay, [], 'no ARP for an overlay address crosses the underlay');
            const toH2 = new Set(vxlan.filter((r) => r[1] === HOSTS.h1 && r[2] === HOSTS.h2).map((r) => Number(r[3])));
            if (io === 'batch') {
              // The raw socket lets the pipeline write a per-flow source port (RFC 7348 section 5).
              assert.ok(toH2.size >= 4, `7 flows to h2 used only ${toH2.size} outer source port(s): ${[...toH2].join(', ')}`);
              for (const p of toH2) assert.ok(p >= 49152 && p <= 65535, `source port ${p} outside 49152-65535`);
            } else {
              // A plain UDP socket sends from the port it is bound to: documented in the README.
              assert.deepEqual([...toH2], [PORT]);
            }
          });

          await t.test('bad input is a counted drop (a peer\'s spoofed inner source too): the daemon stays up and traffic keeps flowing', async () => {
            const before = await d1.stats();
            const bad = badDatagrams();
            for (const payloads of Object.values(bad.fromKnown)) {
              lab.exec('h2', [process.execPath, join(TOOLS, 'udp-send.js'), HOSTS.h2, HOSTS.h1, String(PORT), ...payloads]);
            }
            lab.exec('x', [process.execPath, join(TOOLS, 'udp-send.js'), HOSTS.x, HOSTS.h1, String(PORT), bad.fromStranger]);
            let after = await d1.stats();
            for (let i = 0; i < 20 && after.drops['unknown-vtep'] === before.drops['unknown-vtep']; i++) {
              await new Promise((r) => setTimeout(r, 100));
              after = await d1.stats();
            }
            const delta = (k: string) => after.drops[k]! - before.drops[k]!;
            assert.deepEqual(
              { short: delta('vxlan-too-short'), noI: delta('vxlan-no-i-flag'), vni: delta('vxlan-unknown-vni'), stranger: delta('unknown-vtep'), spoof: delta('inner-spoof') },
              { short: 1, noI: 1, vni: 2, stranger: 1, spoof: 2 });
            assert.equal(d1.exitCode, null, 'the daemon is still running');
            ping(lab, 'h2', SUBNET.h1);
            ping(lab, 'h3', SUBNET.h1);
          });
        } finally {
          codes = await Promise.all([d1.stop(), d2.stop()]);
        }
        assert.deepEqual(codes, [0, 0], `SIGTERM is a clean exit:\n${d1.dump()}\n${d2.dump()}`);
        assert.doesNotMatch(lab.exec('h1', ['ip', 'route']), /10\.44\.2\.0/, 'routes are removed on SIGTERM');
      });
    }

    await t.test('without CAP_NET_RAW and without UDP GSO, --io batch falls back to dgram, says so once, and forwards', async () => {
      // --no-offload: batch would send through a raw socket; the bounding set without CAP_NET_RAW refuses it.
      const d1 = new Daemon(lab, 'h1', ['--peers', files.h1, '--no-offload'], { prefix: ['setpriv', '--bounding-set=-net_raw', '--'] });
      const d2 = new Daemon(lab, 'h2', ['--peers', files.h2]);
      try {
        await Promise.all([d1.up(), d2.up()]);
        const warned = d1.lines.filter((l) => /falling back to --io dgram/.test(l.msg));
        assert.equal(warned.length, 1, `one warning:\n${d1.dump()}`);
        assert.match(warned[0]!.msg, /EPERM|not permitted/i);
        ping(lab, 'h1', SUBNET.h2);
        ping(lab, 'h2', SUBNET.h1);
      } finally {
        await Promise.all([d1.stop(), d2.stop()]);
      }
    });

    await t.test('--io dgram with TAP offloads and the kernel peer at its default offloads: TCP both directions, partial checksums finished, super-datagrams cut', async () => {
      const d1 = new Daemon(lab, 'h1', ['--peers', files.h1, '--io', 'dgram']);
      try {
        await d1.up();
        await tcpTransfer(lab, 'h1', 'h3', SUBNET.h3, 10);
        await tcpTransfer(lab, 'h3', 'h1', SUBNET.h1, 10);
        const c = await portCounters(d1);
        const tap = (await d1.stats())['tap'] as { offload: { enabled: boolean; reason: string } };
        assert.equal(tap.offload.enabled, true, `the TAP offloads are on with --io dgram: ${tap.offload.reason}`);
        assert.ok(c.tap.csumRepaired > 0, `no partial checksum counted: ${JSON.stringify(c.tap)}`);
        assert.equal(c.udp.rxTruncated, 0, `datagrams truncated: ${JSON.stringify(c.udp)}`);
      } finally {
        assert.equal(await d1.stop(), 0);
      }
    });

    // The one test with the kernel peer's TX checksum offload off: its checksums arrive finished, and vxtap leaves them be.
    await t.test('TCP both directions with the kernel peer\'s TX checksum offload off (finished checksums): none counted as repaired', async () => {
      lab.exec('h3', ['ethtool', '-K', 'eth0', 'tx', 'off']);
      const d1 = new Daemon(lab, 'h1', ['--peers', files.h1]);
      try {
        await d1.up();
        const before = await portCounters(d1);
        await tcpTransfer(lab, 'h1', 'h3', SUBNET.h3, 10);
        await tcpTransfer(lab, 'h3', 'h1', SUBNET.h1, 10);
        const after = await portCounters(d1);
        assert.equal(after.tap.csumRepaired, before.tap.csumRepaired, 'finished checksums are not touched');
      } finally {
        assert.equal(await d1.stop(), 0);
        lab.exec('h3', ['ethtool', '-K', 'eth0', 'tx', 'on']);
      }
    });
  } finally {
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
