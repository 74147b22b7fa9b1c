/**
 * The encap trace's outer headers against the wire (issue #12): a traced
 * vxtap host h1 and a peer h2 over a veth underlay (prefix vxt-outer-),
 * tcpdump on h1's eth0. For the same echo request (by its ICMP sequence
 * number), the trace's header 1-3 must say what the capture shows:
 *
 * - the underlay interface (eth0) and its MAC as the Ethernet source;
 * - the next hop's MAC as the Ethernet destination, the one `ip neigh show`
 *   has in h1's namespace, for an on-link VTEP (the VTEP itself) and for a
 *   VTEP behind a gateway (a /32 route via h2's second address);
 * - the outer UDP source port;
 * - TTL and DF: no DF from the batch port (IP_PMTUDISC_DONT), DF from Node's
 *   socket (the kernel's IP_PMTUDISC_WANT) on a datagram that fits the MTU.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needCommand, needNamespaces, run, waitFor } from '../helpers/netns';
import { Daemon } from '../helpers/daemon';
import { renderText, type TraceRecord } from '../../src/switch/trace';

const VNI = 42;
const H1 = '192.168.93.11';
const H2 = '192.168.93.12';
/** h2's second address: h1's gateway to H2 in the second case. */
const GW = '192.168.93.13';

interface WireRow { ethSrc: string; ethDst: string; ttl: number; df: boolean; srcPort: number; seq: number }

/** The echo requests in a capture: outer Ethernet, TTL, DF and UDP source port, by inner ICMP sequence number. */
function wireRows(pcap: string): WireRow[] {
  const out = run('tshark', ['-r', pcap, '-n', '-T', 'fields', '-E', 'separator=|',
    '-e', 'eth.src', '-e', 'eth.dst', '-e', 'ip.ttl', '-e', 'ip.flags.df', '-e', 'udp.srcport', '-e', 'icmp.type', '-e', 'icmp.seq']);
  const rows: WireRow[] = [];
  for (const line of out.trim().split('\n')) {
    const [src, dst, ttl, df, sport, type, seq] = line.split('|').map((f) => f.split(',')[0]!);
    if (type !== '8') continue;
    rows.push({ ethSrc: src!, ethDst: dst!, ttl: Number(ttl), df: df === '1' || df === 'True', srcPort: Number(sport), seq: Number(seq) });
  }
  return rows;
}

/** The MAC `ip neigh show ADDR dev eth0` gives in h1's namespace. */
function neighMac(lab: Lab, addr: string): string {
  const m = /lladdr ([0-9a-f:]{17})/.exec(lab.exec('h1', ['ip', 'neigh', 'show', addr, 'dev', 'eth0']));
  assert.ok(m, `h1 has a neighbour entry for ${addr}`);
  return m[1]!;
}

function linkMac(lab: Lab, host: string): string {
  const m = /link\/ether ([0-9a-f:]{17})/.exec(lab.exec(host, ['ip', 'link', 'show', 'eth0']));
  return m![1]!;
}

test('the encap trace shows the outer headers the kernel puts on the wire', { timeout: 300_000 }, async (t) => {
  if (!needNamespaces(t) || !needCommand(t, 'tshark', 'tshark') || !needCommand(t, 'tcpdump', 'tcpdump')) return;
  const lab = new Lab('vxt-outer-');
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-outer-'));
  try {
    lab.underlay('u', { h1: `${H1}/24`, h2: `${H2}/24` });
    lab.exec('h2', ['ip', 'addr', 'add', `${GW}/24`, 'dev', 'eth0']);
    for (const h of ['h1', 'h2']) lab.exec(h, ['ip', 'route', 'add', 'default', 'dev', 'eth0']);
    const peers = (self: string, peerSubnet: string, peerIp: string, name: string): string => {
      const p = join(dir, `${name}.json`);
      writeFileSync(p, JSON.stringify({ vni: VNI, port: 4789, self: { subnet: self }, peers: [{ subnet: peerSubnet, publicIp: peerIp }] }));
      return p;
    };
    const f1 = peers('10.48.1.0/24', '10.48.2.0/24', H2, 'h1');
    const f2 = peers('10.48.2.0/24', '10.48.1.0/24', H1, 'h2');

    const cases = [
      { name: 'batch port, on-link VTEP', args: [] as string[], gateway: null as string | null, df: false },
      { name: 'Node\'s socket (--io dgram), VTEP behind a gateway', args: ['--io', 'dgram'], gateway: GW, df: true },
    ];
    for (const c of cases) {
      await t.test(c.name, async () => {
        if (c.gateway !== null) lab.exec('h1', ['ip', 'route', 'replace', `${H2}/32`, 'via', c.gateway, 'dev', 'eth0']);
        lab.exec('h1', ['ip', 'neigh', 'flush', 'dev', 'eth0']);
        const pcap = join(dir, `h1-${c.args.length}.pcap`);
        const d2 = new Daemon(lab, 'h2', ['--peers', f2, ...c.args]);
        const d1 = new Daemon(lab, 'h1', ['--peers', f1, '--trace', '--trace-format', 'json', ...c.args]);
        const dump = lab.spawn('h1', ['tcpdump', '-i', 'eth0', '--immediate-mode', '-U', '-n', '-w', pcap, 'udp', 'dst', 'port', '4789']);
        let said = '';
        dump.stderr!.on('data', (d: Buffer) => { said += d.toString(); });
        try {
          await Promise.all([d1.up(), d2.up(), waitFor('tcpdump listening', () => /listening on/.test(said), 10000)]);
          lab.exec('h1', ['ping', '-c', '5', '-i', '0.3', '-W', '2', '10.48.2.0']);
          await waitFor('the trace of the fifth echo request', () => /"seq":5[,}]/.test(d1.out), 5000);
          await waitFor('five echo requests in the capture', () => wireRows(pcap).length >= 5, 5000, 250);
        } finally {
          dump.kill('SIGINT');
          await new Promise((r) => (dump.exitCode !== null ? r(null) : dump.once('exit', r)));
          assert.deepEqual(await Promise.all([d1.stop(), d2.stop()]), [0, 0]);
        }
        const recs = d1.out.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as TraceRecord)
          .filter((r) => r.decision === 'encap' && r.layers.some((l) => l.name === 'ICMPv4' && l.fields.type === 8));
        assert.equal(recs.length, 5, 'five echo requests encapsulated');
        const rows = wireRows(pcap);
        assert.equal(rows.length, 5, `five on the wire: ${run('tshark', ['-r', pcap, '-n'])}`);

        // The first frame to a VTEP starts the lookup; the trace says the facts are not known yet rather than guess.
        const first = recs[0]!.wire!;
        assert.ok(first.headers[0]!.fields.known === false || first.headers[0]!.fields.dev === 'eth0', JSON.stringify(first.headers[0]));
        const known = recs.filter((r) => r.wire !== null && r.wire.headers[0]!.fields.dst !== null);
        assert.ok(known.length >= 3, `the later frames name the next hop's MAC (${known.length} of 5)`);
        const nextHop = c.gateway ?? H2;
        const mac = neighMac(lab, nextHop);
        assert.equal(mac, linkMac(lab, 'h2'), 'the next hop is h2\'s eth0 either way');
        for (const r of known) {
          const w = r.wire!;
          const [eth, ip, udp, vx] = w.headers as [typeof w.headers[0], typeof w.headers[0], typeof w.headers[0], typeof w.headers[0]];
          const seq = Number(r.layers.find((l) => l.name === 'ICMPv4')!.fields.seq);
          const row = rows.find((x) => x.seq === seq);
          assert.ok(row, `echo request ${seq} on the wire`);
          assert.equal(eth.fields.dev, 'eth0', 'the real underlay interface');
          assert.equal(eth.fields.nextHop, nextHop);
          assert.equal(eth.fields.gateway, c.gateway);
          assert.equal(eth.fields.dst, mac, 'the next hop\'s MAC, as ip neigh shows it');
          assert.equal(eth.fields.dst, row.ethDst, 'the Ethernet destination on the wire');
          assert.equal(eth.fields.src, row.ethSrc, 'our interface\'s MAC, the Ethernet source on the wire');
          assert.equal(ip.fields.ttl, row.ttl, 'TTL as on the wire');
          assert.equal(ip.fields.df, row.df, 'DF as on the wire');
          assert.equal(row.df, c.df);
          assert.equal(ip.fields.id, null, 'the IP ID is the kernel\'s, not invented');
          assert.equal(udp.fields.srcPort, row.srcPort, 'the UDP source port as on the wire');
          assert.equal(vx.fields.vni, VNI);
        }
        // The text rendering of the same record names them too.
        const text = renderText(known.at(-1)!, { color: false });
        assert.match(text, new RegExp(`- header 1 \\(14 bytes\\) = Ethernet \\{${linkMac(lab, 'h1')} \\(eth0, mtu 1500\\) > ${mac} \\(next hop ${nextHop.replace(/\./g, '\\.')}`));
      });
    }
  } finally {
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
