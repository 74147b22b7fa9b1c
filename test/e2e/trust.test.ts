/**
 * Issue #9, the control plane's side: no lease in etcd, no peer in a static
 * file and no overwrite of a host's own key can break forwarding.
 *
 *                underlay bridge (ns vxt-trust-u), 192.168.94.0/24
 *     e .100 (etcd)   h1 .1, h2 .2 (vxtap, etcd)   h3 .3 (vxtap, static file)
 *
 * Overlay 10.47.0.0/16, VNI 1, port 4789. Each bad lease is one that was
 * measured to hijack a route, an FDB entry or the daemon before the guard.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needNamespaces, waitFor } from '../helpers/netns';
import { Daemon, VXTAP } from '../helpers/daemon';
import { EtcdServer, needEtcd } from '../helpers/etcd';
import { macFromIp } from '../../src/control/peers';

const ETCD_IP = '192.168.94.100';
const ENDPOINT = `http://${ETCD_IP}:2379`;
const PREFIX = '/coreos.com/network';
const TAP = 'vxtap.1';
const ip = (i: number): string => `192.168.94.${i}`;

interface Stats {
  subnet: string;
  peers: { subnet: string; publicIp: string; vtepMac: string }[];
  fdb: { mac: string; vtep: string }[];
  leases: { refusals: Record<string, number>; refused: { subnet: string; reason: string }[] };
}

const lease = (publicIp: string, vtepMac = macFromIp(publicIp)): string =>
  JSON.stringify({ PublicIP: publicIp, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: vtepMac } });

test('trust: bad leases, a stolen VtepMAC, a static file and an own key taken over break nothing', { timeout: 600_000 }, async (t) => {
  if (!needNamespaces(t) || !needEtcd(t)) return;
  const lab = new Lab('vxt-trust-');
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-trust-'));
  let etcd: EtcdServer | null = null;
  const daemons: Daemon[] = [];
  try {
    lab.underlay('u', { e: `${ETCD_IP}/24`, h1: `${ip(1)}/24`, h2: `${ip(2)}/24`, h3: `${ip(3)}/24` });
    for (const h of ['e', 'h1', 'h2', 'h3']) lab.exec(h, ['ip', 'route', 'add', 'default', 'dev', 'eth0']);
    etcd = new EtcdServer({ netns: lab.ns('e'), host: ETCD_IP, clientPort: 2379 });
    await etcd.start();
    const ctl = (...args: string[]): Promise<string> => etcd!.ctl(args);
    assert.equal(lab.tryExec('h1', [process.execPath, VXTAP, 'network', 'init', '--network', '10.47.0.0/16', '--etcd-endpoints', ENDPOINT]).status, 0);

    const start = (host: string, ...args: string[]): Daemon => {
      const d = new Daemon(lab, host, args);
      daemons.push(d);
      return d;
    };
    const h1 = await start('h1', '--etcd-endpoints', ENDPOINT, '--subnet-file', join(dir, 'h1.env')).up();
    const h2 = await start('h2', '--etcd-endpoints', ENDPOINT, '--subnet-file', join(dir, 'h2.env')).up();
    const stats = async (d: Daemon): Promise<Stats> => (await d.stats()) as unknown as Stats;
    const routes = (host: string): string => lab.tryExec(host, ['ip', 'route', 'show']).stdout;
    const gw = (subnet: string): string => subnet.split('/')[0]!;
    const ping = (from: string, to: string): void => {
      const out = lab.exec(from, ['ping', '-c', '2', '-i', '0.2', '-W', '2', to]);
      assert.match(out, / 0% packet loss/, `ping ${from} -> ${to}:\n${out}`);
    };
    const s1 = (await stats(h1)).subnet;
    const s2 = (await stats(h2)).subnet;
    await waitFor('h1 and h2 route to each other', () => routes('h1').includes(s2) && routes('h2').includes(s1));
    const h1RoutesBefore = routes('h1');
    const h2Mac = macFromIp(ip(2));

    await t.test('each measured bad lease is refused and counted; routes, FDB and pings stay as they were', async () => {
      const upper = (s: string): string => `${gw(s).replace(/\.0$/, '.128')}-25`;
      const bad: [string, string, string][] = [
        ['192.168.94.0-24', lease(ip(50)), 'network'],                 // the underlay's own /24
        [upper(s1), lease(ip(51)), 'network'],                         // upper /25 of h1's own subnet
        [upper(s2), lease(ip(52)), 'network'],                         // upper /25 of h2's
        ['128.0.0.0-1', lease(ip(53)), 'network'],                     // half of IPv4
        ['10.99.1.0-24', lease(ip(54)), 'network'],                    // outside the Network
        ['10.47.0.0-16', lease(ip(55)), 'network'],                    // a /16
        ['10.47.5.5-32', lease(ip(56)), 'network'],                    // a /32
        ['10.47.200.0-24', lease('127.0.0.1'), 'public-ip'],           // loopback VTEP
        ['10.47.201.0-24', lease(ip(57), h2Mac), 'vtep-mac'],          // h2's VtepMAC
      ];
      for (const [key, value] of bad) await ctl('put', `${PREFIX}/subnets/${key}`, value);
      let st!: Stats;
      await waitFor('h1 refused all of them', async () => {
        st = await stats(h1);
        return st.leases.refused.length === bad.length;
      });
      for (const [key, , reason] of bad) {
        const subnet = key.replace('-', '/');
        assert.equal(st.leases.refused.find((r) => r.subnet === subnet)?.reason, reason, `${subnet}: ${JSON.stringify(st.leases.refused)}`);
      }
      assert.equal(st.leases.refusals['network'], 7);
      assert.deepEqual(st.peers.map((p) => p.subnet), [s2], 'only h2 is a peer');
      assert.equal(st.fdb.find((e) => e.mac === h2Mac)?.vtep, ip(2), 'h2\'s FDB entry still points at h2');
      assert.equal(routes('h1'), h1RoutesBefore, 'not one route of h1 changed');
      assert.match(routes('h1'), /192\.168\.94\.0\/24 dev eth0 proto kernel scope link/, 'the connected route is there');
      // Each refusal was logged once, with the reason.
      for (const [key] of bad) {
        const subnet = key.replace('-', '/');
        assert.equal(h1.lines.filter((l) => l.msg.startsWith(`refusing lease ${subnet} `)).length, 1, `${subnet} logged once`);
      }
      ping('h1', gw(s2));
      ping('h2', gw(s1));
      for (const [key] of bad) await ctl('del', `${PREFIX}/subnets/${key}`);
      await waitFor('nothing refused any more', async () => (await stats(h1)).leases.refused.length === 0);
      assert.equal(routes('h1'), h1RoutesBefore, 'deleting the bad leases left nothing to repair');
      ping('h1', gw(s2));
    });

    await t.test('a newcomer with an older lease\'s VtepMAC waits; when the older one goes, it comes in', async () => {
      const mac = '02:aa:00:00:00:01';
      await ctl('put', `${PREFIX}/subnets/10.47.210.0-24`, lease(ip(60), mac));
      await waitFor('h1 routes 10.47.210.0/24', () => routes('h1').includes('10.47.210.0/24'));
      await ctl('put', `${PREFIX}/subnets/10.47.211.0-24`, lease(ip(61), mac));
      await h1.waitLog(/^refusing lease 10\.47\.211\.0\/24 .*already bound to the older lease 10\.47\.210\.0\/24/);
      let st = await stats(h1);
      assert.equal(st.fdb.find((e) => e.mac === mac)?.vtep, ip(60), 'the older lease keeps the MAC');
      assert.ok(!routes('h1').includes('10.47.211.0/24'));
      await ctl('del', `${PREFIX}/subnets/10.47.210.0-24`);
      await waitFor('h1 routes 10.47.211.0/24 instead', () => routes('h1').includes('10.47.211.0/24') && !routes('h1').includes('10.47.210.0/24'));
      st = await stats(h1);
      assert.equal(st.fdb.find((e) => e.mac === mac)?.vtep, ip(61));
      await ctl('del', `${PREFIX}/subnets/10.47.211.0-24`);
      await waitFor('gone', () => !routes('h1').includes('10.47.211.0/24'));
    });

    await t.test('a static peers file: a peer for the underlay\'s /24 or half of IPv4 is refused; the connected route stays', async () => {
      const file = join(dir, 'h3.json');
      const write = (bad: { subnet: string; publicIp: string }): void => writeFileSync(file, JSON.stringify({ vni: 1, self: { subnet: '10.47.250.0/24' }, peers: [{ subnet: s1, publicIp: ip(1) }, bad] }));
      write({ subnet: '192.168.94.0/24', publicIp: ip(70) });
      const h3 = await start('h3', '--peers', file).up();
      let st = await stats(h3);
      assert.deepEqual(st.peers.map((p) => p.subnet), [s1]);
      assert.deepEqual(st.leases.refused.map((r) => `${r.subnet} ${r.reason}`), ['192.168.94.0/24 underlay']);
      // An edit of the watched file: half of IPv4 instead.
      write({ subnet: '128.0.0.0/1', publicIp: ip(71) });
      await waitFor('h3 refuses 128.0.0.0/1', async () => {
        st = await stats(h3);
        return st.leases.refused.map((r) => `${r.subnet} ${r.reason}`).join() === '128.0.0.0/1 network';
      });
      assert.deepEqual(st.peers.map((p) => p.subnet), [s1]);
      assert.match(routes('h3'), /192\.168\.94\.0\/24 dev eth0 proto kernel scope link/);
      assert.ok(!routes('h3').includes('128.0.0.0/1'));
      assert.match(routes('h3'), new RegExp(`${s1.replace(/\./g, '\\.')} via ${gw(s1).replace(/\./g, '\\.')} dev ${TAP.replace('.', '\\.')} proto 118 onlink`), 'the good peer is routed');
      assert.equal(await h3.stop(), 0);
    });

    await t.test('a value written over h1\'s own key: h1 moves to a fresh lease, keeps running, leaves no lease behind', async () => {
      const ownKey = `${PREFIX}/subnets/${s1.replace('/', '-')}`;
      await ctl('put', ownKey, lease(ip(77)));
      const moved = await h1.waitLog(/^subnet .* was taken over by 192\.168\.94\.77: this host moves to /, 20000);
      const s1b = String(moved['to']);
      assert.notEqual(s1b, s1);
      await waitFor('h1 reports its new subnet', async () => (await stats(h1)).subnet === s1b);
      assert.equal(h1.exitCode, null, 'h1 is still running');
      // The VTEP's address, the subnet file and h2's route follow the move.
      await waitFor('the TAP carries the new address', () => lab.tryExec('h1', ['ip', '-4', 'addr', 'show', 'dev', TAP]).stdout.includes(`${gw(s1b)}/32`));
      assert.ok(!lab.tryExec('h1', ['ip', '-4', 'addr', 'show', 'dev', TAP]).stdout.includes(`${gw(s1)}/32`), 'the old address is gone');
      assert.match(readFileSync(join(dir, 'h1.env'), 'utf8'), new RegExp(`FLANNEL_SUBNET=${gw(s1b).replace(/\.0$/, '\\.1')}/24`));
      await waitFor('h2 routes to h1\'s new subnet', () => routes('h2').includes(s1b));
      ping('h2', gw(s1b));
      // One lease carries h1's PublicIP: the new one. The old key holds the other value.
      const leases = JSON.parse(lab.exec('h1', [process.execPath, VXTAP, 'leases', '--json', '--etcd-endpoints', ENDPOINT])) as { subnet: string; publicIp: string | null }[];
      assert.deepEqual(leases.filter((l) => l.publicIp === ip(1)).map((l) => l.subnet), [s1b]);
      assert.equal(leases.find((l) => l.subnet === s1)?.publicIp, ip(77));
    });

    await t.test('every daemon stops cleanly (exit 0)', async () => {
      for (const d of daemons) assert.equal(await d.stop(), 0, d.dump());
    });
  } finally {
    for (const d of daemons) await d.stop().catch(() => undefined);
    await etcd?.stop();
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
