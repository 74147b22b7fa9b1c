/**
 * End to end: `vxtap fdb|arp|peers|stats` against running daemons, each
 * client run inside its daemon's namespace as an operator would.
 *
 *              underlay bridge (ns vxt-insp-u), 192.168.90.0/24
 *        +-------------------+-------------------+-------------------+
 *     h1 .1 (vxtap)       h2 .2 (vxtap)       h3 .3 (vxtap, alone)  x .9 (no daemon)
 *     10.44.1.0/24        10.44.2.0/24        10.44.3.0/24
 *     --control-socket    default socket      default socket
 *
 * h1 and h2 are peers (static files). All three TAPs are `vxtap.42`: h2's and
 * h3's default sockets must not collide (the namespace is in the path).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needNamespaces, nsPrefix, waitFor } from '../helpers/netns';
import { Daemon, TOOLS, VXTAP } from '../helpers/daemon';
import { macFromIp } from '../../src/control/peers';
import type { ArpRow, FdbRow, PeerRow, StatsData } from '../../src/control/api/protocol';

const VNI = 42;
const PORT = 4789;
const HOSTS = { h1: '192.168.90.1', h2: '192.168.90.2', h3: '192.168.90.3', x: '192.168.90.9' } as const;
const SUBNET = { h1: '10.44.1.0', h2: '10.44.2.0', h3: '10.44.3.0' } as const;
const TAP = `vxtap.${VNI}`;
const PREFIX = nsPrefix('vxt-insp-');
const nsDir = (host: string): string => `/run/vxtap/netns/${PREFIX}${host}`;

function peersFile(dir: string, self: 'h1' | 'h2' | 'h3'): string {
  const path = join(dir, `${self}.json`);
  const other = self === 'h1' ? 'h2' : 'h1';
  writeFileSync(path, JSON.stringify({
    vni: VNI,
    port: PORT,
    self: { subnet: `${SUBNET[self]}/24` },
    peers: self === 'h3' ? [] : [{ subnet: `${SUBNET[other]}/24`, publicIp: HOSTS[other] }],
  }));
  return path;
}

/** A VXLAN datagram with this flags byte and VNI around a small broadcast frame, as hex. */
function vxlanHex(flags: string, vni: number): string {
  const inner = 'ffffffffffff' + '020000000001' + '0800' + '45000014000000004001' + '0000' + '0a2c0201' + '0a2c0100';
  return flags + '000000' + vni.toString(16).padStart(6, '0') + '00' + inner;
}

test('vxtap fdb|arp|peers|stats: the daemon\'s tables and counters over its control socket', { timeout: 300_000 }, async (t) => {
  if (!needNamespaces(t)) return;
  const lab = new Lab(PREFIX);
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-insp-'));
  const sock1 = join(dir, 'h1', 'ctl.sock');
  const daemons: Daemon[] = [];
  const start = async (host: 'h1' | 'h2' | 'h3', extra: string[] = []): Promise<Daemon> => {
    const d = new Daemon(lab, host, ['--peers', peersFile(dir, host), ...extra]);
    daemons.push(d);
    await d.waitLog(/^control socket /); // logged before "vxtap is up"
    return d;
  };
  const vx = (host: string, ...args: string[]) => lab.tryExec(host, [process.execPath, VXTAP, ...args]);
  const json = <T>(host: string, ...args: string[]): T => {
    const r = vx(host, ...args, '--json');
    assert.equal(r.status, 0, `vxtap ${args.join(' ')} --json on ${host}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  };
  try {
    lab.underlay('u', Object.fromEntries(Object.entries(HOSTS).map(([h, ip]) => [h, `${ip}/24`])));
    for (const h of Object.keys(HOSTS)) lab.exec(h, ['ip', 'route', 'add', 'default', 'dev', 'eth0']);
    const [d1, d2, d3] = await Promise.all([start('h1', ['--control-socket', sock1]), start('h2'), start('h3')]);

    lab.exec('h1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', SUBNET.h2]);
    lab.exec('h2', ['ping', '-c', '3', '-i', '0.2', '-W', '2', SUBNET.h1]);
    // One datagram per reason from the peer (known VTEP), one well-formed from a stranger.
    lab.exec('h2', [process.execPath, join(TOOLS, 'udp-send.js'), HOSTS.h2, HOSTS.h1, String(PORT),
      '08000000', vxlanHex('00', VNI), vxlanHex('08', 9)]);
    lab.exec('x', [process.execPath, join(TOOLS, 'udp-send.js'), HOSTS.x, HOSTS.h1, String(PORT), vxlanHex('08', VNI)]);
    await waitFor('the drops on h1', () => {
      const d = json<StatsData>('h1', 'stats', '--control-socket', sock1).counters.drops;
      return d['unknown-vtep'] === 1 && d['vxlan-unknown-vni'] === 1 && d['vxlan-no-i-flag'] === 1 && d['vxlan-too-short'] === 1;
    }, 5000, 100);

    const h2Mac = macFromIp(HOSTS.h2);
    await t.test('--json: fdb, arp, peers, stats as the test expects them', () => {
      const fdb = json<FdbRow[]>('h1', 'fdb', '--control-socket', sock1);
      assert.equal(fdb.length, 1);
      assert.ok(Number.isInteger(fdb[0]!.ageSeconds) && fdb[0]!.ageSeconds >= 0, `ageSeconds ${fdb[0]!.ageSeconds}`);
      assert.deepEqual(fdb, [{ mac: h2Mac, vtep: HOSTS.h2, port: PORT, kind: 'static', ageSeconds: fdb[0]!.ageSeconds }]);

      assert.deepEqual(json<ArpRow[]>('h1', 'arp', '--control-socket', sock1),
        [{ ip: SUBNET.h2, mac: h2Mac, subnet: `${SUBNET.h2}/24`, publicIp: HOSTS.h2 }]);
      assert.deepEqual(json<PeerRow[]>('h1', 'peers', '--control-socket', sock1),
        [{ subnet: `${SUBNET.h2}/24`, publicIp: HOSTS.h2, vtepMac: h2Mac, route: `${SUBNET.h2}/24 via ${SUBNET.h2} dev ${TAP} onlink`, error: null }]);

      const s = json<StatsData>('h1', 'stats', '--control-socket', sock1);
      assert.deepEqual(
        { tap: s.tap, vni: s.vni, port: s.port, subnet: s.subnet, publicIp: s.publicIp, vtepMac: s.vtepMac, io: s.io, pid: s.pid, tables: s.tables },
        { tap: TAP, vni: VNI, port: PORT, subnet: `${SUBNET.h1}/24`, publicIp: HOSTS.h1, vtepMac: macFromIp(HOSTS.h1), io: 'batch', pid: d1.pid, tables: { fdb: 1, arp: 1, peers: 1 } });
      const c = s.counters;
      assert.ok(c.encapFrames > 0 && c.encapBytes > 0, `encap ${c.encapFrames}`);
      assert.ok(c.decapFrames > 0 && c.decapBytes > 0, `decap ${c.decapFrames}`);
      assert.ok(c.arpAnswered >= 1, `arpAnswered ${c.arpAnswered}`);
      assert.deepEqual(
        { vni: c.drops['vxlan-unknown-vni'], noI: c.drops['vxlan-no-i-flag'], short: c.drops['vxlan-too-short'], stranger: c.drops['unknown-vtep'] },
        { vni: 1, noI: 1, short: 1, stranger: 1 });
      assert.ok(s.ports.tap !== null && s.ports.udp !== null, 'both ports report');
      assert.ok(Number.isInteger(s.uptimeSeconds));
    });

    await t.test('the tables for people carry the same facts', () => {
      const out = (cmd: string): string => {
        const r = vx('h1', cmd, '--control-socket', sock1);
        assert.equal(r.status, 0, r.stderr);
        return r.stdout;
      };
      const fdb = out('fdb');
      assert.match(fdb, /^MAC +VTEP +PORT +KIND +AGE\n/);
      assert.match(fdb, new RegExp(`\\n${h2Mac} +${HOSTS.h2} +${PORT} +static +\\d+s\\n`));
      assert.match(out('arp'), new RegExp(`\\n${SUBNET.h2} +${h2Mac} +${SUBNET.h2}/24 +${HOSTS.h2}\\n`));
      assert.match(out('peers'), new RegExp(`\\n${SUBNET.h2}/24 +${HOSTS.h2} +${h2Mac} +${SUBNET.h2}/24 via ${SUBNET.h2} dev ${TAP} onlink\\n`));
      const stats = out('stats');
      assert.match(stats, new RegExp(`^${TAP} +VNI ${VNI} +UDP port ${PORT} +io batch`));
      assert.match(stats, /\n +vxlan-unknown-vni +1\n/);
      assert.match(stats, /\n +unknown-vtep +1\n/);
      assert.match(stats, /\n +encap TAP -> VXLAN +[1-9]\d* +[1-9]\d*/);
      assert.match(stats, /\n +decap VXLAN -> TAP +[1-9]\d* +[1-9]\d*/);
    });

    await t.test('default sockets: per namespace (same TAP name on h2 and h3), 0600 in 0700 directories, found with no flag', () => {
      for (const h of ['h2', 'h3']) {
        const path = join(nsDir(h), `${TAP}.sock`);
        assert.ok(statSync(path).isSocket(), path);
        assert.equal(statSync(path).mode & 0o777, 0o600, path);
        assert.equal(statSync(nsDir(h)).mode & 0o777, 0o700, nsDir(h));
      }
      assert.equal(statSync('/run/vxtap').mode & 0o777, 0o700);
      assert.equal(statSync(sock1).mode & 0o777, 0o600);
      assert.deepEqual(json<FdbRow[]>('h2', 'fdb').map((r) => [r.mac, r.vtep]), [[macFromIp(HOSTS.h1), HOSTS.h1]], 'h2 finds its own daemon');
      assert.deepEqual(json<FdbRow[]>('h3', 'fdb'), [], 'h3 finds its own daemon');
      assert.equal(json<StatsData>('h3', 'stats', '--tap', TAP).pid, d3.pid);
      assert.equal(json<StatsData>('h2', 'stats').pid, d2.pid);
    });

    await t.test('no daemon: a clear error and exit 1', () => {
      let r = vx('x', 'fdb');
      assert.equal(r.status, 1, r.stdout);
      assert.match(r.stderr, new RegExp(`^vxtap: no vxtap daemon found in ${nsDir('x')} \\(is \`vxtap run\` running\\?\\) \\[VXTAP_ERR_CONTROL_NO_DAEMON\\]\\n$`));
      r = vx('x', 'stats', '--control-socket', join(dir, 'none.sock'));
      assert.equal(r.status, 1);
      assert.match(r.stderr, /no vxtap daemon at .*none\.sock/);
      r = vx('h2', 'arp', '--tap', 'vxtap.7');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /no vxtap daemon for TAP vxtap\.7 .*\(daemons here: vxtap\.42\)/);
    });

    await t.test('SIGTERM: exit 0 and the socket is gone', async () => {
      assert.deepEqual(await Promise.all([d1.stop(), d2.stop()]), [0, 0]);
      assert.equal(existsSync(sock1), false, sock1);
      assert.equal(existsSync(join(nsDir('h2'), `${TAP}.sock`)), false);
    });

    await t.test('a crashed daemon\'s socket is stale: the client says so, the next daemon replaces it', async () => {
      const path = join(nsDir('h3'), `${TAP}.sock`);
      process.kill(d3.pid, 'SIGKILL');
      await waitFor('h3 daemon killed', () => d3.exitCode !== null);
      assert.ok(existsSync(path), 'SIGKILL leaves the socket file');
      const r = vx('h3', 'peers');
      assert.equal(r.status, 1);
      assert.match(r.stderr, /stale socket.*\[VXTAP_ERR_CONTROL_STALE\]/);
      const again = await start('h3');
      await again.waitLog(/^replaced the stale control socket/);
      assert.equal(json<StatsData>('h3', 'stats').pid, again.pid);
      assert.equal(await again.stop(), 0);
      assert.equal(existsSync(path), false);
    });
  } finally {
    await Promise.all(daemons.map((d) => d.stop().catch(() => -1)));
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
    for (const h of Object.keys(HOSTS)) rmSync(nsDir(h), { recursive: true, force: true });
  }
});
