/**
 * Issue #9, point 4: one oversized TSO frame must not turn UDP GSO off.
 *
 * Two vxtap hosts (offloads on, the default) on an underlay of MTU 1500, in
 * namespaces (Lab prefix vxt-gso-). test/tools/inject-tso.py hands h1's TAP
 * a TCPv4 super-frame as the kernel's TSO would, through an AF_PACKET socket
 * with a virtio_net_hdr: first with an MSS of 1448, too large for the
 * underlay (VXLAN + 1502-byte segments + IP/UDP = 1538 > 1500), so the
 * kernel refuses the GSO send with EMSGSIZE; then with a well-formed MSS of
 * 1398. The oversized frame's four datagrams must cross one by one
 * (fragmented: the outer DF bit is clear), GSO must stay on, and the
 * well-formed frame must leave as one GSO send; a TCP stream after it too.
 * Once with the super-frame kept whole to the send (no --trace), once cut
 * in the reader (--trace keeps every frame visible).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needNamespaces, waitFor } from '../helpers/netns';
import { Daemon, REPO, TOOLS } from '../helpers/daemon';
import { macFromIp } from '../../src/control/peers';

const VNI = 7;
const HOSTS = { h1: '192.168.97.1', h2: '192.168.97.2' } as const;
const SUBNET = { h1: '10.47.1.0', h2: '10.47.2.0' } as const;
const TAP = `vxtap.${VNI}`;
const INJECT = join(REPO, 'test', 'tools', 'inject-tso.py');

interface Gso { messages: number; datagrams: number; fallbacks: number; refused: number; lastRefusal: string | null; unsegmented: number; segmentLimit: number | null; disabled: string | null }
interface Snapshot {
  gso: Gso;
  gsoState: { enabled: boolean; reason: string };
  txSkipped: number;
  udpSendDrops: number;
  tapOffload: { gsoFrames: number; whole: number; segments: number; dropped: number };
}

async function snapshot(d: Daemon): Promise<Snapshot> {
  const s = await d.stats();
  const udpPort = s['udpPort'] as { gso: Gso; txSkipped: number };
  return {
    gso: udpPort.gso,
    gsoState: (s['udp'] as { offload: { gso: { enabled: boolean; reason: string } } }).offload.gso,
    txSkipped: udpPort.txSkipped,
    udpSendDrops: s.drops['udp-send']!,
    tapOffload: (s['tapPort'] as { offload: Snapshot['tapOffload'] }).offload,
  };
}

/** What h2 took from the underlay: frames decapsulated, and GRO messages (GSO sends that crossed whole). */
async function received(d: Daemon): Promise<{ decap: number; groMessages: number; groDatagrams: number }> {
  const s = await d.stats();
  const gro = (s['udpPort'] as { gro: { messages: number; datagrams: number } }).gro;
  return { decap: s['decapFrames'] as number, groMessages: gro.messages, groDatagrams: gro.datagrams };
}

/** One TCPv4 super-frame of `segments` * `mss` payload bytes, h1 -> h2, into h1's TAP. */
function inject(lab: Lab, mss: number, segments: number): void {
  const out = JSON.parse(lab.exec('h1', ['python3', INJECT, TAP, macFromIp(HOSTS.h1), macFromIp(HOSTS.h2), SUBNET.h1, SUBNET.h2, String(mss), String(segments), '9'])) as { sent: number };
  assert.equal(out.sent, 14 + 20 + 20 + mss * segments);
}

/** Sends `mb` MiB over TCP h1 -> h2 and checks the SHA-256 on both ends. */
async function tcpTransfer(lab: Lab, mb: number): Promise<void> {
  const sink = lab.spawn('h2', [process.execPath, join(TOOLS, 'tcp-sink.js'), SUBNET.h2, '5201']);
  let out = '';
  sink.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  await waitFor('the TCP sink', () => out.includes('listening'), 10000, 20);
  const sent = JSON.parse(lab.exec('h1', [process.execPath, join(TOOLS, 'tcp-source.js'), SUBNET.h2, '5201', String(mb)])) as { sha256: string };
  await waitFor('the TCP sink to finish', () => sink.exitCode !== null, 30000, 20);
  const got = JSON.parse(out.split('\n').find((l) => l.includes('sha256'))!) as { bytes: number; sha256: string };
  assert.equal(got.bytes, mb * 1024 * 1024);
  assert.equal(got.sha256, sent.sha256, 'the bytes arrived intact');
}

test('UDP GSO: an oversized TSO frame falls back for its own send only; GSO stays on', { timeout: 300_000 }, async (t) => {
  if (!needNamespaces(t)) return;
  const lab = new Lab('vxt-gso-');
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-gso-'));
  try {
    lab.underlay('u', { h1: `${HOSTS.h1}/24`, h2: `${HOSTS.h2}/24` });
    const files: Record<string, string> = {};
    for (const [self, other] of [['h1', 'h2'], ['h2', 'h1']] as const) {
      files[self] = join(dir, `${self}.json`);
      writeFileSync(files[self], JSON.stringify({ vni: VNI, self: { subnet: `${SUBNET[self]}/24` }, peers: [{ subnet: `${SUBNET[other]}/24`, publicIp: HOSTS[other] }] }));
    }

    for (const trace of [false, true]) {
      await t.test(trace ? 'cut in the reader (--trace)' : 'kept whole to the send', async (t: TestContext) => {
        const extra = trace ? ['--trace', '--trace-format', 'json'] : [];
        const d1 = new Daemon(lab, 'h1', ['--peers', files['h1']!, '--iface', 'eth0', ...extra]);
        const d2 = new Daemon(lab, 'h2', ['--peers', files['h2']!, '--iface', 'eth0']);
        try {
          await Promise.all([d1.up(), d2.up()]);
          const start = await snapshot(d1);
          assert.deepEqual(start.gsoState, { enabled: true, reason: 'on' });
          assert.equal(start.gso.fallbacks, 0);

          await t.test('the oversized frame: refused once (EMSGSIZE), its 4 datagrams cross one by one, GSO stays on', async () => {
            const rx0 = await received(d2);
            inject(lab, 1448, 4);
            await waitFor('h2 to decapsulate 4 frames', async () => (await received(d2)).decap >= rx0.decap + 4, 10000, 50);
            const s = await snapshot(d1);
            assert.equal(s.tapOffload.gsoFrames, start.tapOffload.gsoFrames + 1, 'the TAP handed over one super-frame');
            assert.equal(s.tapOffload.dropped, 0);
            if (!trace) assert.equal(s.tapOffload.whole, start.tapOffload.whole + 1, 'kept whole to the send');
            assert.deepEqual(s.gso, {
              ...start.gso, fallbacks: 1, lastRefusal: 'EMSGSIZE',
              // 8 (VXLAN) + 14 + 20 + 20 + 1448: longer datagrams are now sent unsegmented up front.
              segmentLimit: 1509,
            });
            assert.deepEqual(s.gsoState, { enabled: true, reason: 'on' }, 'GSO still on');
            assert.equal(s.txSkipped, 0, 'no datagram refused');
            assert.equal(s.udpSendDrops, 0);
            const rx = await received(d2);
            assert.equal(rx.decap, rx0.decap + 4, 'all 4 segments arrived');
            assert.equal(rx.groMessages, rx0.groMessages, 'as 4 datagrams, not as one GSO send');
            assert.ok(!d1.lines.some((l) => /UDP GSO/.test(l.msg) && l.level >= 40), 'nothing logged: GSO did not go off');
          });

          await t.test('a well-formed frame after it leaves as one GSO send', async () => {
            const s0 = await snapshot(d1);
            const rx0 = await received(d2);
            inject(lab, 1398, 4);
            await waitFor('h2 to decapsulate 4 frames', async () => (await received(d2)).decap >= rx0.decap + 4, 10000, 50);
            const s = await snapshot(d1);
            assert.deepEqual(s.gso, { ...s0.gso, messages: s0.gso.messages + 1, datagrams: s0.gso.datagrams + 4 });
            const rx = await received(d2);
            assert.equal(rx.groMessages, rx0.groMessages + 1, 'h2 took the 4 datagrams as one GRO message');
            assert.equal(rx.groDatagrams, rx0.groDatagrams + 4);
          });

          await t.test('the same oversized frame again is not offered to GSO: sent unsegmented up front, no second refusal', async () => {
            const s0 = await snapshot(d1);
            const rx0 = await received(d2);
            inject(lab, 1448, 4);
            await waitFor('h2 to decapsulate 4 frames', async () => (await received(d2)).decap >= rx0.decap + 4, 10000, 50);
            const s = await snapshot(d1);
            assert.deepEqual(s.gso, { ...s0.gso, unsegmented: s0.gso.unsegmented + 4 });
          });

          await t.test('a TCP stream afterwards: 20 MiB intact, in GSO sends, no more fallbacks', async () => {
            const s0 = await snapshot(d1);
            await tcpTransfer(lab, 20);
            const s = await snapshot(d1);
            assert.ok(s.gso.messages > s0.gso.messages, `no GSO sends: ${JSON.stringify(s.gso)}`);
            assert.equal(s.gso.fallbacks, 1);
            assert.equal(s.gso.disabled, null);
            assert.deepEqual(s.gsoState, { enabled: true, reason: 'on' });
            t.diagnostic(`GSO: ${s.gso.datagrams - s0.gso.datagrams} datagrams in ${s.gso.messages - s0.gso.messages} sends`);
          });
        } finally {
          await Promise.all([d1.stop(), d2.stop()]);
        }
      });
    }
  } finally {
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
