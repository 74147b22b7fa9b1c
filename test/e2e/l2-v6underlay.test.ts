/**
 * `vxtap run --mode l2` over an IPv6 underlay that has no IPv4 at all
 * (issue #13, part 1), beside the kernel's vxlan device:
 *
 *                underlay bridge (ns vxt-v6u-u), fd00:77::/64, IPv6 only (nodad)
 *        +-----------------------+-----------------------+
 *     h1 ::1 kernel vx0       h2 ::2 vxtap (TAP vx0)   h3 ::3 vxtap (TAP vx0)
 *     learning, flood list    --mode l2 --peers FILE   --mode l2 --peers FILE
 *        |  br0                  |  br0                   |  br0
 *     c1a .11                 c2a .21                  c3a .31       (10.78.0.0/24, IPv4 inside)
 *
 * h1: `ip link add vx0 type vxlan id 42 dstport 4789 local fd00:77::1 dev
 * eth0 learning`, bridged, with `bridge fdb append 00:00:00:00:00:00 dev vx0
 * dst <the others>`. h2 and h3: `--public-ip fd00:77::N --iface eth0` and one
 * static L2 file of IPv6 publicIps. Every MTU in the overlay is 1500 - 70.
 * The underlay's offloads stay at their defaults (no ethtool), also for the
 * checksum check: a veth at its defaults passes the outer UDP checksum
 * unfinished (MACHINE-NOTES "partial checksums"), so the capture must see
 * either a finished, correct checksum or the folded pseudo-header sum the
 * stack leaves for the NIC to finish; never zero.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Lab, needCommand, needNamespaces, run, waitFor } from '../helpers/netns';
import { REPO, VXTAP } from '../helpers/daemon';
import { tcpTransfer } from '../helpers/tcp';
import { L2Fabric, PORT } from '../helpers/l2';
import { parseAddress } from '../../src/wire/ipv6';

const HOSTS = {
  h1: { ip: 'fd00:77::1', kind: 'kernel' as const, containers: [{ name: 'c1a', ip: '10.78.0.11', mac: '02:78:00:00:00:11' }] },
  h2: { ip: 'fd00:77::2', kind: 'vxtap' as const, containers: [{ name: 'c2a', ip: '10.78.0.21', mac: '02:78:00:00:00:21' }] },
  h3: { ip: 'fd00:77::3', kind: 'vxtap' as const, containers: [{ name: 'c3a', ip: '10.78.0.31', mac: '02:78:00:00:00:31' }] },
};
const UDP6_SEND = join(REPO, 'test', 'tools', 'udp6-send.py');

/** The folded (not complemented) IPv6 pseudo-header sum for UDP: what the stack leaves in the field for the NIC to finish. */
function pseudoHeaderSum(src: string, dst: string, udpLen: number): number {
  const b = Buffer.concat([parseAddress(src), parseAddress(dst), Buffer.from([0, 0, udpLen >> 8, udpLen & 0xff, 0, 0, 0, 17])]);
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += b.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** Udp6InCsumErrors of a namespace (the kernel's count of UDP over IPv6 refused for its checksum, a zero one included). */
function csumErrors(lab: Lab, host: string): number {
  const t = lab.exec(host, ['cat', '/proc/net/snmp6']);
  return Number(/^Udp6InCsumErrors\s+(\d+)/m.exec(t)?.[1] ?? NaN);
}

/** A VXLAN datagram (VNI 42) around a broadcast frame from srcMac, hex. */
function vxlanBroadcast(srcMac: string): string {
  return '08000000' + (42).toString(16).padStart(6, '0') + '00' + 'ffffffffffff' + srcMac.replace(/:/g, '') + '88b5' + '00'.repeat(46);
}

test('vxtap --mode l2 over an IPv6-only underlay, beside kernel vxlan', { timeout: 600_000 }, async (t) => {
  if (!needNamespaces(t) || !needCommand(t, 'tshark', 'tshark') || !needCommand(t, 'tcpdump', 'tcpdump') || !needCommand(t, 'python3', 'python3')) return;
  const lab = new Lab('vxt-v6u-');
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-v6u-'));
  const fab = new L2Fabric(lab, dir, HOSTS);
  const names = fab.containers.map((c) => c.name);
  try {
    fab.build();
    // No IPv4 anywhere on the underlay: the hosts' eth0 hold IPv6 addresses only.
    for (const h of Object.keys(HOSTS)) {
      assert.equal(lab.exec(h, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']).trim(), '', `${h}: eth0 has no IPv4 address`);
      await waitFor(`${h}: ${HOSTS[h as keyof typeof HOSTS].ip} usable`, () => !/tentative/.test(lab.exec(h, ['ip', '-6', 'addr', 'show', 'dev', 'eth0'])), 5000, 50);
    }
    await fab.startAll();

    await t.test('the TAP and the kernel device have MTU 1500 - 70, and vxtap says its underlay is IPv6', () => {
      for (const h of ['h2', 'h3']) {
        assert.match(lab.exec(h, ['ip', 'link', 'show', 'vx0']), /mtu 1430 /, `${h}: the TAP's MTU is the underlay's less 70`);
        const st = fab.vxtapJson<{ publicIp: string; tables: { floodList: number } }>(h, 'stats');
        assert.equal(st.publicIp, HOSTS[h as 'h2' | 'h3'].ip);
        assert.equal(st.tables.floodList, 2, `${h}: the two other VTEPs are on its flood list`);
      }
    });

    await t.test('every pair of containers pings (IPv4 inside, IPv6 outside), and vxtap learned each MAC behind its IPv6 VTEP', async () => {
      await fab.explained(() => {
        for (const a of names) for (const b of names) if (a !== b) fab.ping(a, b, 1);
      });
      for (const [h, c, behind] of [['h2', 'c1a', 'h1'], ['h2', 'c3a', 'h3'], ['h3', 'c1a', 'h1'], ['h3', 'c2a', 'h2']] as const) {
        const rows = fab.learned(h, fab.container(c).mac);
        fab.check(rows.length === 1 && rows[0]!.vtep === HOSTS[behind].ip && rows[0]!.port === PORT, `${h}: ${c} learned behind ${HOSTS[behind].ip}: ${JSON.stringify(rows)}`);
      }
      const k = fab.learned('h1', fab.container('c2a').mac);
      fab.check(k.length === 1 && k[0]!.vtep === HOSTS.h2.ip, `the kernel learned c2a behind h2's IPv6 address: ${JSON.stringify(k)}`);
    });

    await t.test('20 MiB of TCP cross intact both ways between vxtap and the kernel host, and vxtap <-> vxtap (default underlay offloads)', async (tt: TestContext) => {
      await fab.explained(async () => {
        for (const [from, to] of [['c1a', 'c2a'], ['c2a', 'c1a'], ['c3a', 'c2a']] as const) {
          const mbps = await tcpTransfer(lab, from, to, fab.container(to).ip, 20);
          tt.diagnostic(`${from} -> ${to}: 20 MiB intact, ${mbps.toFixed(0)} Mbit/s (not a benchmark)`);
        }
      });
      const udp = fab.vxtapJson<{ offloads?: { udp: { gso: { enabled: boolean }; gro: { enabled: boolean } } | null } }>('h2', 'stats').offloads?.udp;
      fab.check(udp !== undefined && udp !== null && udp.gso.enabled && udp.gro.enabled, `h2: UDP GSO and GRO on over IPv6: ${JSON.stringify(udp)}`);
    });

    await t.test('on the wire: outer IPv6 + UDP to 4789 with a checksum: finished and correct, or the pseudo-header sum left for the NIC; never zero', async (tt: TestContext) => {
      const file = join(dir, 'h2-eth0.pcap');
      let cap: ChildProcess | null = null;
      try {
        cap = lab.spawn('h2', ['tcpdump', '-i', 'eth0', '-Q', 'out', '--immediate-mode', '-U', '-n', '-w', file, `udp dst port ${PORT}`]);
        let err = '';
        cap.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
        await waitFor('tcpdump listening', () => err.includes('listening on'), 10000, 20);
        fab.ping('c2a', 'c1a', 3);
        fab.ping('c2a', 'c3a', 3);
        await new Promise((r) => setTimeout(r, 300));
      } finally {
        if (cap !== null && cap.exitCode === null) {
          const exited = new Promise<void>((resolve) => cap!.once('exit', () => resolve()));
          cap.kill('SIGINT');
          await exited;
        }
      }
      const out = run('tshark', ['-r', file, '-n', '-o', 'udp.check_checksum:TRUE', '-d', `udp.port==${PORT},vxlan`, '-Y', 'vxlan', '-T', 'fields',
        '-E', 'separator=|', '-E', 'occurrence=f', '-e', 'ipv6.src', '-e', 'ipv6.dst', '-e', 'ip.version', '-e', 'udp.checksum', '-e', 'udp.checksum.status', '-e', 'vxlan.vni', '-e', 'udp.length']);
      const rows = out.trim().split('\n').filter((l) => l.length > 0).map((l) => l.split('|'));
      tt.diagnostic(`${rows.length} VXLAN datagrams from h2; first: ${rows[0]?.join(' ')}`);
      assert.ok(rows.length >= 6, `h2 sent the pings' VXLAN datagrams: ${rows.length}`);
      for (const [src, dst, ipVersion, csum, status, vni, udpLen] of rows) {
        assert.equal(src, HOSTS.h2.ip);
        assert.ok(dst === HOSTS.h1.ip || dst === HOSTS.h3.ip, `to a VTEP of the segment: ${dst}`);
        // The first IP header is the outer one: IPv6 (the inner one, IPv4, comes after it).
        assert.equal(ipVersion, '6', 'the outer header is IPv6');
        assert.notEqual(Number(csum), 0, 'the outer UDP checksum is not zero (RFC 6935/6936)');
        // Finished (tshark: good), or CHECKSUM_PARTIAL's folded pseudo-header sum (RFC 8200 section 8.1) that the NIC would finish.
        const partial = pseudoHeaderSum(src!, dst!, Number(udpLen));
        assert.ok(status === '1' || Number(csum) === partial, `checksum ${csum}: tshark status ${status}, the partial sum would be 0x${partial.toString(16)}`);
        assert.equal(vni, '42');
      }
    });

    await t.test('a VXLAN datagram with a zero UDP checksum from a VTEP of the segment is not delivered (the kernel drops it and counts it); a checksummed one is', async () => {
      const before = csumErrors(lab, 'h2');
      const zeroMac = '02:78:00:00:0e:01';
      const goodMac = '02:78:00:00:0e:02';
      lab.exec('h1', ['python3', UDP6_SEND, HOSTS.h1.ip, HOSTS.h2.ip, '50001', String(PORT), 'zero', vxlanBroadcast(zeroMac)]);
      lab.exec('h1', ['python3', UDP6_SEND, HOSTS.h1.ip, HOSTS.h2.ip, '50002', String(PORT), 'good', vxlanBroadcast(goodMac)]);
      await fab.waitFor('h2 learned the checksummed frame\'s source', () => fab.learned('h2', goodMac).length === 1);
      fab.check(fab.learned('h2', goodMac)[0]!.vtep === HOSTS.h1.ip, 'learned behind h1');
      await new Promise((r) => setTimeout(r, 200));
      fab.check(fab.learned('h2', zeroMac).length === 0, 'the zero-checksum frame was not delivered: its source MAC was never learned');
      assert.equal(csumErrors(lab, 'h2') - before, 1, 'h2\'s kernel counted one UDP checksum error (Udp6InCsumErrors)');
    });

    await t.test('--trace json and --pcap over IPv6: the decap shows the outer IPv6 rebuilt, the pcap holds IPv6/UDP/VXLAN with correct checksums', async () => {
      await fab.stopVtep('h3');
      const pcap = join(dir, 'h3.pcapng');
      await fab.startVtep('h3', { extra: ['--trace', '--trace-format', 'json', '--trace-filter', 'icmp', '--pcap', pcap] });
      fab.ping('c3a', 'c1a', 2);
      const d = fab.daemons.get('h3')!;
      await fab.waitFor('h3 traced a decap', () => d.out.includes('"decision":"decap"'));
      const recs = d.out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { dir: string; decision: string; outer: { src: string; dst: string } | null; layers: { name: string }[]; encap: { vtep: string; overhead: number } | null });
      const dec = recs.find((r) => r.decision === 'decap')!;
      assert.deepEqual([dec.outer?.src, dec.outer?.dst], [HOSTS.h1.ip, HOSTS.h3.ip]);
      assert.equal(dec.layers[0]?.name, 'IPv6');
      const enc = recs.find((r) => r.decision === 'encap' && r.encap?.vtep === HOSTS.h1.ip);
      assert.equal(enc?.encap?.overhead, 70);
      await fab.stopVtep('h3');
      const out = run('tshark', ['-r', pcap, '-n', '-o', 'udp.check_checksum:TRUE', '-d', `udp.port==${PORT},vxlan`, '-Y', 'vxlan && icmp', '-T', 'fields',
        '-E', 'separator=|', '-E', 'occurrence=f', '-e', 'ipv6.src', '-e', 'ipv6.dst', '-e', 'udp.checksum.status']);
      const rows = out.trim().split('\n').filter((l) => l.length > 0).map((l) => l.split('|'));
      assert.ok(rows.length >= 4, `the pings' datagrams both ways are in the pcap: ${rows.length}`);
      for (const [src, dst, status] of rows) {
        // h3's FDB is empty after its restart: the first echo request is flooded to h1 and h2 (unknown unicast).
        const vteps = Object.values(HOSTS).map((x) => x.ip);
        assert.ok([src, dst].includes(HOSTS.h3.ip) && vteps.includes(src!) && vteps.includes(dst!) && src !== dst, `${src} > ${dst}`);
        assert.equal(status, '1', 'the rebuilt UDP checksum is correct');
      }
      await fab.startVtep('h3');
    });

    await t.test('a static L2 file that mixes IPv4 and IPv6 VTEPs is a ConfigError naming the entry', () => {
      const file = join(dir, 'mixed.json');
      lab.exec('h2', ['sh', '-c', `printf '%s' '${JSON.stringify({ vni: 42, peers: [{ publicIp: 'fd00:77::2' }, { publicIp: '192.168.1.3' }] })}' > ${file}`]);
      const r = lab.tryExec('h2', [process.execPath, VXTAP, 'run', '--mode', 'l2', '--peers', file, '--public-ip', 'fd00:77::2', '--iface', 'eth0', '--tap', 'vxm', '--control-socket', join(dir, 'mixed.sock')]);
      assert.notEqual(r.status, 0);
      assert.match(r.stdout + r.stderr, /peers\[1\]\.publicIp/);
      assert.match(r.stdout + r.stderr, /one underlay family/);
    });
  } finally {
    try {
      const codes = await fab.stopAll();
      for (const [h, code] of Object.entries(codes)) assert.equal(code, 0, `vxtap on ${h} exits 0 on SIGTERM`);
    } finally {
      await lab.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
