/**
 * Routes are owned (issue #9), with a real daemon: `vxtap run` with a static
 * peers file in a namespace whose main table already holds an operator's
 * route to one peer's subnet, on a persistent TAP that holds a route of ours
 * left by an earlier run.
 *
 *     underlay bridge (ns vxt-own-u) -- h1 eth0 192.168.90.1/24, default dev eth0
 *     h1: persistent TAP vxtap.42 (ip tuntap add), stale `10.44.9.0/24 dev vxtap.42 proto 118`
 *         operator's `10.44.7.0/24 via 192.168.90.254 dev eth0 proto static`
 *     peers: 10.44.2.0/24 (fine), 10.44.7.0/24 (conflict)
 *
 * The lease guard (control/lease-guard.ts) sees the operator's route first
 * and refuses the peer (`underlay`) before the installer is asked; the
 * installer's own conflict check (VXTAP_ERR_ROUTE_CONFLICT, for a route that
 * appears between the two) is tested with KernelNet in kernel.test.ts and
 * with a fake route table in test/unit/control/installer.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needNamespaces } from '../helpers/netns';
import { Daemon, VXTAP } from '../helpers/daemon';
import { RTPROT_VXTAP } from '../../src/control/kernel';
import type { PeerRow, StatsData } from '../../src/control/api/protocol';

const TAP = 'vxtap.42';

interface IpRoute { dst: string; gateway?: string; dev: string; protocol?: string }

test('vxtap run: a peer whose subnet has a route vxtap did not install is refused, counted and shown; that route stays', { timeout: 120_000 }, async (t) => {
  if (!needNamespaces(t)) return;
  const lab = new Lab('vxt-own-');
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-own-'));
  let d: Daemon | null = null;
  // `ip -j` leaves out the protocol when it is boot, or when the listing is filtered by it.
  const routes = (...args: string[]): string[] => (JSON.parse(lab.exec('h1', ['ip', '-j', 'route', 'show', ...args])) as IpRoute[])
    .map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev} proto ${r.protocol ?? (args.includes('proto') ? args[args.indexOf('proto') + 1] : 'boot')}`);
  const json = <T>(...args: string[]): T => {
    const r = lab.tryExec('h1', [process.execPath, VXTAP, ...args, '--json']);
    assert.equal(r.status, 0, `vxtap ${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  try {
    lab.underlay('u', { h1: '192.168.90.1/24' });
    lab.exec('h1', ['ip', 'route', 'add', 'default', 'dev', 'eth0']);
    lab.exec('h1', ['ip', 'route', 'add', '10.44.7.0/24', 'via', '192.168.90.254', 'dev', 'eth0', 'proto', 'static']);
    // A persistent TAP with a route of ours from a run that crashed.
    lab.exec('h1', ['ip', 'tuntap', 'add', 'dev', TAP, 'mode', 'tap']);
    lab.exec('h1', ['ip', 'link', 'set', TAP, 'up']);
    lab.exec('h1', ['ip', 'route', 'add', '10.44.9.0/24', 'dev', TAP, 'proto', String(RTPROT_VXTAP)]);

    const peers = join(dir, 'peers.json');
    writeFileSync(peers, JSON.stringify({
      vni: 42,
      self: { subnet: '10.44.1.0/24' },
      peers: [{ subnet: '10.44.2.0/24', publicIp: '192.168.90.2' }, { subnet: '10.44.7.0/24', publicIp: '192.168.90.7' }],
    }));
    d = new Daemon(lab, 'h1', ['--peers', peers, '--control-socket', join(dir, 'ctl.sock')]);
    await d.up();

    // Ours: the good peer's route, with our protocol; the stale one is gone.
    assert.deepEqual(routes('proto', String(RTPROT_VXTAP)), [`10.44.2.0/24 via 10.44.2.0 dev ${TAP} proto ${RTPROT_VXTAP}`]);
    // The operator's route is as it was.
    assert.deepEqual(routes('exact', '10.44.7.0/24'), ['10.44.7.0/24 via 192.168.90.254 dev eth0 proto static']);

    const sock = ['--control-socket', join(dir, 'ctl.sock')];
    const stats = json<StatsData>('stats', ...sock);
    assert.deepEqual(stats.routes, { protocol: RTPROT_VXTAP, conflicts: 0, failedPeers: 0 }, 'the installer was never asked');
    assert.equal(stats.leases?.refusals['underlay'], 1);
    assert.equal(stats.leases?.refusedNow, 1);
    const rows = json<PeerRow[]>('peers', ...sock);
    assert.deepEqual(rows.map((r) => [r.subnet, r.route !== null]), [['10.44.2.0/24', true], ['10.44.7.0/24', false]]);
    assert.match(rows[1]!.error!, /refused \(underlay\): 10\.44\.7\.0\/24 covers the route 10\.44\.7\.0\/24 dev eth0, which vxtap did not install/);
    // The refused peer has no ARP or FDB entry.
    assert.deepEqual(json<{ ip: string }[]>('arp', ...sock).map((r) => r.ip), ['10.44.2.0']);
    assert.ok(d.lines.some((l) => /^refusing lease 10\.44\.7\.0\/24 /.test(l.msg)), d.dump());
    // The text form shows the counters.
    const text = lab.exec('h1', [process.execPath, VXTAP, 'stats', ...sock]);
    assert.match(text, new RegExp(`routes: proto ${RTPROT_VXTAP}, 0 route conflicts, 0 peers not installed`));
    assert.match(text, /leases refused \(total 1, 1 now\)/);

    // On SIGTERM vxtap removes its routes, and only its own.
    assert.equal(await d.stop(), 0);
    assert.deepEqual(routes('proto', String(RTPROT_VXTAP)), []);
    assert.deepEqual(routes('exact', '10.44.7.0/24'), ['10.44.7.0/24 via 192.168.90.254 dev eth0 proto static']);
  } finally {
    if (d) await d.stop().catch(() => undefined);
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
