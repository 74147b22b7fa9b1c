/**
 * The capture against the wire (issue #12): two vxtap hosts with static
 * peers in namespaces (prefix vxt-pcapng-), h1 recording with --pcap, and
 * tcpdump on h1's underlay (eth0, `udp port 4789`) at the same time.
 *
 * - --pcap-underlay: what tshark shows of vxtap's underlay packets
 *   (interface 1) equals, field by field, what it shows of tcpdump's capture
 *   (outer Ethernet, IPv4 with TTL, DF and ID, UDP with its checksum, VNI,
 *   the inner packet, the frame length), for a ping and a short TCP
 *   transfer; the interfaces are named (the TAP, eth0), every packet has its
 *   direction, and the real frames carry no comment.
 * - Without it (rebuilt packets), each underlay packet carries a comment,
 *   tshark finds its UDP checksum right, and the TTL, DF, addresses, ports,
 *   source MAC of what we send match the wire; with --io batch (DF clear)
 *   and --io dgram (Node's sockets: DF set).
 * - --pcap-underlay without CAP_NET_RAW, or without --pcap, fails and says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needCommand, needNamespaces, run, waitFor } from '../helpers/netns';
import { Daemon } from '../helpers/daemon';
import { tcpTransfer } from '../helpers/tcp';

const VNI = 42;
const PORT = 4789;
const H1 = '192.168.95.1';
const H2 = '192.168.95.2';
const SUB = { h1: '10.48.1.0', h2: '10.48.2.0' } as const;

function peers(dir: string): { h1: string; h2: string } {
  const f = (self: string, peerSubnet: string, peerIp: string, name: string): string => {
    const p = join(dir, `${name}.json`);
    writeFileSync(p, JSON.stringify({ vni: VNI, port: PORT, self: { subnet: self }, peers: [{ subnet: peerSubnet, publicIp: peerIp }] }));
    return p;
  };
  return { h1: f(`${SUB.h1}/24`, `${SUB.h2}/24`, H2, 'h1'), h2: f(`${SUB.h2}/24`, `${SUB.h1}/24`, H1, 'h2') };
}

/** The fields compared, outer and inner (tshark joins an outer and an inner value with a comma). */
const FIELDS = ['frame.len', 'eth.src', 'eth.dst', 'ip.src', 'ip.dst', 'ip.ttl', 'ip.flags.df', 'ip.id', 'udp.srcport', 'udp.dstport', 'udp.checksum',
  'vxlan.vni', 'icmp.type', 'icmp.seq', 'tcp.seq_raw', 'tcp.len'] as const;
type Row = Record<(typeof FIELDS)[number], string>;

function rows(file: string, filter: string, extra: string[] = []): (Row & { rest: string[] })[] {
  const out = run('tshark', ['-n', '-r', file, '-d', `udp.port==${PORT},vxlan`, '-Y', filter, '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=a',
    ...FIELDS.flatMap((f) => ['-e', f]), ...extra.flatMap((f) => ['-e', f]), ...(extra.some((e) => e.startsWith('udp.checksum.status')) ? ['-o', 'udp.check_checksum:TRUE'] : [])]);
  return out.split('\n').filter((l) => l.length > 0).map((l) => {
    const v = l.split('|');
    const r = Object.fromEntries(FIELDS.map((f, i) => [f, v[i] ?? ''])) as Row;
    return { ...r, rest: v.slice(FIELDS.length) };
  });
}

/** The first of a comma list: the outer header's value. */
const outer = (v: string): string => v.split(',')[0]!;

/**
 * tcpdump on h1's underlay, written to `file`; resolves once it listens.
 * --immediate-mode: without it libpcap's TPACKET_V3 ring hands a block over
 * only when it is full or after its timeout, and a few pings then stopped
 * with SIGINT leave an empty file.
 */
async function tcpdump(lab: Lab, file: string): Promise<ChildProcess> {
  const p = lab.spawn('h1', ['tcpdump', '-i', 'eth0', '-n', '--immediate-mode', '-U', '-w', file, 'udp', 'port', String(PORT)]);
  let err = '';
  p.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  await waitFor('tcpdump listening', () => {
    if (p.exitCode !== null) throw new Error(`tcpdump exited: ${err}`);
    return /listening on eth0/.test(err);
  }, 10000, 50);
  return p;
}

async function stopTcpdump(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  const done = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  p.kill('SIGINT');
  await done;
}

test('the capture against the wire: --pcap and --pcap-underlay beside tcpdump', { timeout: 300_000 }, async (t) => {
  if (!needNamespaces(t)) return;
  if (!needCommand(t, 'tshark', 'tshark') || !needCommand(t, 'tcpdump', 'tcpdump')) return;
  const lab = new Lab('vxt-pcapng-');
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-pcapng-'));
  try {
    lab.underlay('u', { h1: `${H1}/24`, h2: `${H2}/24` });
    for (const h of ['h1', 'h2']) lab.exec(h, ['ip', 'route', 'add', 'default', 'dev', 'eth0']);
    const files = peers(dir);
    const h1Mac = lab.exec('h1', ['cat', '/sys/class/net/eth0/address']).trim();

    await t.test('--pcap-underlay: the underlay packets are the wire\'s, field by field, with interface names and directions', async () => {
      const pcap = join(dir, 'real.pcapng');
      const wire = join(dir, 'real-wire.pcap');
      const d2 = new Daemon(lab, 'h2', ['--peers', files.h2]);
      const d1 = new Daemon(lab, 'h1', ['--peers', files.h1, '--pcap', pcap, '--pcap-underlay']);
      let dump: ChildProcess | null = null;
      try {
        await Promise.all([d1.up(), d2.up()]);
        dump = await tcpdump(lab, wire);
        lab.exec('h1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', SUB.h2]);
        await tcpTransfer(lab, 'h1', 'h2', SUB.h2, 1, 5301);
        // The last frames reach both captures before they stop.
        await new Promise((r) => setTimeout(r, 300));
      } finally {
        if (dump !== null) await stopTcpdump(dump);
        const codes = await Promise.all([d1.stop(), d2.stop()]);
        assert.deepEqual(codes, [0, 0], `clean exits:\n${d1.dump()}`);
      }
      // Both directions are on the wire; vxtap's capture must hold every one of tcpdump's VXLAN packets, the same.
      const theirs = rows(wire, 'vxlan');
      const ours = rows(pcap, 'vxlan && frame.interface_id == 1', ['frame.interface_name', 'frame.packet_flags_direction', 'frame.comment']);
      const key = (r: Row): string => FIELDS.map((f) => r[f]).join('|');
      assert.ok(theirs.filter((r) => outer(r['ip.src']) === H1 && r['icmp.type'].split(',').includes('8')).length === 3, 'tcpdump saw three requests go out');
      assert.ok(theirs.some((r) => r['tcp.len'] !== ''), 'and the TCP transfer');
      const ourKeys = new Map<string, number>();
      for (const r of ours) ourKeys.set(key(r), (ourKeys.get(key(r)) ?? 0) + 1);
      const missing = theirs.filter((r) => {
        const n = ourKeys.get(key(r)) ?? 0;
        if (n === 0) return true;
        ourKeys.set(key(r), n - 1);
        return false;
      });
      // A frame the kernel dropped from a full capture queue (the machine busy) is missing, and the
      // daemon must say so; anything else missing is a real difference.
      const dropLine = d1.lines.find((l) => /--pcap-underlay: the kernel dropped \d+ frame/.test(l.msg));
      const dropped = dropLine === undefined ? 0 : Number(/dropped (\d+) frame/.exec(dropLine.msg)![1]);
      assert.equal(missing.length, dropped, `each of tcpdump's ${theirs.length} VXLAN packets is in vxtap's capture (${ours.length}), every field the same, but for the ${dropped} the daemon said it missed: ${JSON.stringify(missing.slice(0, 3))}`);
      assert.equal(ours.length, theirs.length - dropped, 'and nothing else');
      for (const r of ours) {
        assert.equal(r.rest[0], 'eth0', 'interface 1 is the underlay interface');
        const sent = outer(r['ip.src']) === H1;
        assert.equal(Number(r.rest[1]), sent ? 2 : 1, `direction of ${r['ip.src']} → ${r['ip.dst']}`);
        assert.equal(r.rest[2], '', 'real frames carry no comment');
        assert.equal(outer(r['eth.src']), sent ? h1Mac : outer(r['eth.src']));
      }
      // The TAP side is interface 0, named after the TAP, with its directions (read from the TAP = the TAP sent it: outbound).
      const tap = run('tshark', ['-n', '-r', pcap, '-Y', 'frame.interface_id == 0 && icmp', '-T', 'fields', '-E', 'separator=|',
        '-e', 'frame.interface_name', '-e', 'icmp.type', '-e', 'frame.packet_flags_direction']).trim().split('\n').map((l) => l.split('|'));
      assert.deepEqual(tap.map((r) => [r[0], r[1], Number(r[2])]).filter((r) => r[1] === '8').length, 3);
      for (const r of tap) assert.deepEqual([r[0], Number(r[2])], [`vxtap.${VNI}`, r[1] === '8' ? 2 : 1]);
    });

    for (const io of ['batch', 'dgram'] as const) {
      await t.test(`--pcap without --pcap-underlay (--io ${io}): rebuilt packets say so, have a right UDP checksum, and what the socket sends matches the wire`, async () => {
        const pcap = join(dir, `rebuilt-${io}.pcapng`);
        const wire = join(dir, `rebuilt-${io}-wire.pcap`);
        const d2 = new Daemon(lab, 'h2', ['--peers', files.h2]);
        const d1 = new Daemon(lab, 'h1', ['--peers', files.h1, '--pcap', pcap, '--io', io]);
        let dump: ChildProcess | null = null;
        try {
          await Promise.all([d1.up(), d2.up()]);
          dump = await tcpdump(lab, wire);
          lab.exec('h1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', SUB.h2]);
          await new Promise((r) => setTimeout(r, 300));
        } finally {
          if (dump !== null) await stopTcpdump(dump);
          const codes = await Promise.all([d1.stop(), d2.stop()]);
          assert.deepEqual(codes, [0, 0], `clean exits:\n${d1.dump()}`);
        }
        const ours = rows(pcap, 'vxlan && icmp && frame.interface_id == 1', ['udp.checksum.status', 'frame.comment', 'frame.interface_description']);
        const theirs = rows(wire, 'vxlan && icmp');
        assert.equal(ours.length, 6, 'three requests out, three replies in');
        const bySeq = (rs: Row[], type: string): Map<string, Row> => new Map(rs.filter((r) => r['icmp.type'] === type).map((r) => [r['icmp.seq'], r]));
        const [ourOut, wireOut] = [bySeq(ours, '8'), bySeq(theirs, '8')];
        const [ourIn, wireIn] = [bySeq(ours, '0'), bySeq(theirs, '0')];
        assert.equal(wireOut.size, 3);
        for (const [seq, w] of wireOut) {
          const o = ourOut.get(seq);
          assert.ok(o, `request ${seq} is in vxtap's capture`);
          // What the socket sends and we know: addresses, ports, TTL, DF, our MAC, the datagram; not the ID the kernel picks.
          for (const f of ['frame.len', 'eth.src', 'ip.src', 'ip.dst', 'ip.ttl', 'ip.flags.df', 'udp.srcport', 'udp.dstport', 'vxlan.vni', 'icmp.seq'] as const) {
            assert.equal(o[f], w[f], `request ${seq}: ${f}`);
          }
          assert.equal(outer(o['ip.flags.df']), io === 'dgram' ? '1' : '0', `DF as the ${io} socket sends it`);
          assert.equal(outer(o['ip.id']), '0x0000', 'the kernel\'s IPv4 ID is not known: 0, said so');
          // The next hop's MAC comes from the neighbour table, looked up off the frame path after the
          // first datagram to the VTEP asks: until the answer is in, zeros, and the comment says unknown.
          const known = outer(o['eth.dst']) !== '00:00:00:00:00:00';
          if (known) assert.equal(o['eth.dst'], w['eth.dst'], `request ${seq}: the neighbour table's MAC is the wire's`);
          assert.match((o as Row & { rest: string[] }).rest[1]!, known ? /MACs from the neighbour table/ : /the next hop's MAC, unknown/);
        }
        assert.equal(ourOut.get('3')?.['eth.dst'], wireOut.get('3')?.['eth.dst'], 'by the third request (400 ms on) the next hop\'s MAC is known');
        for (const [seq, w] of wireIn) {
          const o = ourIn.get(seq);
          assert.ok(o, `reply ${seq} is in vxtap's capture`);
          for (const f of ['frame.len', 'eth.dst', 'ip.src', 'ip.dst', 'udp.srcport', 'udp.dstport', 'vxlan.vni', 'icmp.seq'] as const) {
            assert.equal(o[f], w[f], `reply ${seq}: ${f}`);
          }
        }
        for (const r of ours as (Row & { rest: string[] })[]) {
          assert.equal(outer(r.rest[0]!), '1', `tshark finds the rebuilt UDP checksum good (${r['udp.checksum']})`);
          assert.match(r.rest[1]!, /^reconstructed by vxtap from the socket's addresses: Ethernet header .*IPv4 header \(ID/);
          assert.match(r.rest[2]!, new RegExp(`vxtap's UDP socket on ${H1.replace(/\./g, '\\.')}:${PORT}`));
        }
      });
    }

    await t.test('--pcap-underlay without CAP_NET_RAW fails, naming the flag and the capability', async () => {
      const d1 = new Daemon(lab, 'h1', ['--peers', files.h1, '--pcap', join(dir, 'nocap.pcapng'), '--pcap-underlay'], { prefix: ['setpriv', '--bounding-set=-net_raw', '--'] });
      await waitFor('vxtap exits', () => d1.exitCode !== null, 20000, 50);
      assert.notEqual(d1.exitCode, 0);
      assert.ok(d1.lines.some((l) => /--pcap-underlay: .*needs CAP_NET_RAW/.test(l.msg)), `the message:\n${d1.dump()}`);
      assert.doesNotMatch(lab.exec('h1', ['ip', 'link']), new RegExp(`vxtap\\.${VNI}`), 'nothing left behind');
    });

    await t.test('--pcap-underlay without --pcap fails before anything starts', async () => {
      const d1 = new Daemon(lab, 'h1', ['--peers', files.h1, '--pcap-underlay']);
      await waitFor('vxtap exits', () => d1.exitCode !== null, 20000, 50);
      assert.notEqual(d1.exitCode, 0);
      assert.ok(d1.lines.some((l) => /--pcap-underlay needs --pcap FILE/.test(l.msg)), `the message:\n${d1.dump()}`);
    });
  } finally {
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
