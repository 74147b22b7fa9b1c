/**
 * The teaching trace and the pcap, on real daemons: two vxtap hosts with
 * static peers in namespaces (prefix vxt-trc-), h1 traced.
 *
 * - The trace of one ping shows, in order: the ARP answered locally, the FDB
 *   hit, the encap, and the decap of the reply; in text and in JSON.
 * - A malformed frame appears in the trace with its decode error.
 * - The pcap opens in tshark, which dissects VXLAN with the right VNI and the
 *   inner frame, on 4789 and on another port (with -d udp.port==PORT,vxlan).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needNamespaces, run, waitFor } from '../helpers/netns';
import { Daemon, TOOLS } from '../helpers/daemon';

const VNI = 42;
const H1 = '192.168.94.1';
const H2 = '192.168.94.2';

function peers(dir: string, port: number): { h1: string; h2: string } {
  const f = (self: string, peerSubnet: string, peerIp: string, name: string) => {
    const p = join(dir, `${name}-${port}.json`);
    writeFileSync(p, JSON.stringify({ vni: VNI, port, self: { subnet: self }, peers: [{ subnet: peerSubnet, publicIp: peerIp }] }));
    return p;
  };
  return { h1: f('10.47.1.0/24', '10.47.2.0/24', H2, 'h1'), h2: f('10.47.2.0/24', '10.47.1.0/24', H1, 'h2') };
}

test('the teaching trace and the pcap on a live daemon', { timeout: 300_000 }, async (t) => {
  if (!needNamespaces(t)) return;
  const lab = new Lab('vxt-trc-');
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-trace-'));
  try {
    lab.underlay('u', { h1: `${H1}/24`, h2: `${H2}/24` });
    for (const h of ['h1', 'h2']) lab.exec(h, ['ip', 'route', 'add', 'default', 'dev', 'eth0']);

    for (const [format, port] of [['text', 4789], ['json', 8472]] as const) {
      await t.test(`--trace-format ${format}, port ${port}`, async () => {
        const files = peers(dir, port);
        const pcap = join(dir, `h1-${port}.pcap`);
        const d2 = new Daemon(lab, 'h2', ['--peers', files.h2]);
        const d1 = new Daemon(lab, 'h1', ['--peers', files.h1, '--trace', '--trace-format', format, '--pcap', pcap]);
        try {
          await Promise.all([d1.up(), d2.up()]);
          lab.exec('h1', ['ip', 'neigh', 'flush', 'dev', `vxtap.${VNI}`]);
          const mark = d1.out.length;
          lab.exec('h1', ['ping', '-c', '1', '-W', '2', '10.47.2.0']);
          // A malformed frame: valid VXLAN from the known peer, inner IPv4 header cut short.
          const inner = '0276c0a85e01' + '0276c0a85e02' + '0800' + '4500001c0000';
          const vxlan = `08000000${VNI.toString(16).padStart(6, '0')}00`;
          lab.exec('h2', [process.execPath, join(TOOLS, 'udp-send.js'), H2, H1, String(port), vxlan + inner]);
          await waitFor('the trace of the malformed frame', () => (format === 'text' ? /DecodeFailure/.test(d1.out) : /"decodeError":"/.test(d1.out)), 5000);
          const trace = d1.out.slice(mark);

          if (format === 'text') {
            const steps = [
              /ARP who-has 10\.47\.2\.0 → answered locally: is-at 02:76:c0:a8:5e:02 \(lease 10\.47\.2\.0\/24, host 192\.168\.94\.2\)/,
              /FDB hit 02:76:c0:a8:5e:02 → VTEP 192\.168\.94\.2:4789/,
              /encap VNI 42, UDP \d+→4789, \+50 bytes/,
              // The reply: h2's host answers from its TAP's 10.47.2.0, with h2's VTEP MAC.
              /inner source 02:76:c0:a8:5e:02 10\.47\.2\.0 from 192\.168\.94\.2 \(VTEP MAC 02:76:c0:a8:5e:02, subnet 10\.47\.2\.0\/24\): the peer's own/,
              /decap from 192\.168\.94\.2 \(VNI 42\)/,
            ];
            let at = 0;
            for (const re of steps) {
              const m = re.exec(trace.slice(at));
              assert.ok(m, `trace step ${re} after offset ${at}:\n${trace}`);
              at += m.index + m[0].length;
            }
            assert.match(trace, /ICMPv4 \{echo-request/);
            assert.match(trace, /DecodeFailure/);
            assert.match(trace, /45 00 00 1c 00 00|4500001c0000/, 'the bad bytes are shown in hex');
            assert.match(trace, /drop: inner-spoof \(the IPv4 header is cut short: no source to check/, 'with no source address, the inner source check drops it');
          } else {
            const recs = trace.trim().split('\n').map((l) => JSON.parse(l) as { dir: string; decision: string; reason: string; lookups: { table: string; hit: boolean }[]; decodeError: string | null; layers: { name: string }[] });
            const arp = recs.findIndex((r) => r.dir === 'tap' && r.decision === 'arp-reply');
            const encap = recs.findIndex((r, i) => i > arp && r.decision === 'encap' && r.lookups.some((l) => l.table === 'fdb' && l.hit));
            const decap = recs.findIndex((r, i) => i > encap && r.dir === 'net' && r.decision === 'decap' && r.layers.some((l) => l.name === 'ICMPv4'));
            assert.ok(arp >= 0 && encap > arp && decap > encap, `ARP ${arp} < encap ${encap} < decap ${decap} in:\n${trace}`);
            assert.match(recs[encap]!.reason, /encap VNI 42, UDP \d+→8472/);
            const bad = recs.find((r) => r.decodeError !== null);
            assert.ok(bad, 'the malformed frame is in the trace');
            assert.ok(bad.layers.some((l) => l.name === 'DecodeFailure'));
          }
          // Readable while the daemon runs: every batch is written out whole.
          const live = run('tshark', ['-r', pcap, '-n', '-d', `udp.port==${port},vxlan`, '-T', 'fields', '-e', 'vxlan.vni']);
          assert.match(live, new RegExp(`^${VNI}$`, 'm'), 'tshark reads VXLAN from the pcap of a running daemon');
        } finally {
          // SIGINT for one run, SIGTERM for the other: the file must stay whole either way.
          const codes = await Promise.all([d1.stop(10000, format === 'text' ? 'SIGINT' : 'SIGTERM'), d2.stop()]);
          assert.deepEqual(codes, [0, 0]);
        }
        // The pcap, after SIGTERM: tshark opens it and dissects VXLAN (VNI) and the inner ICMP.
        const rows = run('tshark', ['-r', pcap, '-n', '-d', `udp.port==${port},vxlan`, '-T', 'fields', '-E', 'separator=|', '-e', 'vxlan.vni', '-e', 'icmp.type', '-e', 'arp.opcode', '-e', 'udp.dstport'])
          .trim().split('\n').map((l) => l.split('|'));
        const vx = rows.filter((r) => r[0] === String(VNI));
        assert.ok(vx.some((r) => r[1] === '8'), 'an encapsulated echo request');
        assert.ok(vx.some((r) => r[1] === '0'), 'an encapsulated echo reply');
        assert.ok(vx.every((r) => r[3]!.split(',')[0] === String(port)), `outer UDP port ${port}`);
        assert.ok(rows.some((r) => r[0] === '' && r[2] === '1') && rows.some((r) => r[0] === '' && r[2] === '2'), 'the TAP side: the ARP request and the local reply');
      });
    }
  } finally {
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
