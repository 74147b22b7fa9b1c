/**
 * `vxtap run --mode l2 --etcd-endpoints …` end to end (issue #10): the flood
 * list follows etcd. Each host registers `<prefix>/l2/<vni>/vteps/<public-ip>`
 * on a short lease and watches the others; a real etcd (Debian's
 * etcd-server) runs on the underlay in its own namespace.
 *
 *                underlay bridge (ns vxt-l2e-u), 192.168.78.0/24
 *     e .100 (etcd)   h1 .1 vxtap   h2 .2 vxtap   h3 .3 vxtap (joins, leaves, dies)
 *                        | br0         | br0         | br0
 *                       c1 .11        c2 .21        c3 .31      (10.78.0.0/24)
 */
import { test } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needNamespaces } from '../helpers/netns';
import { EtcdServer, needEtcd, sleep } from '../helpers/etcd';
import { L2Fabric, PORT, VNI } from '../helpers/l2';

const ETCD_IP = '192.168.78.100';
const ENDPOINT = `http://${ETCD_IP}:2379`;
const PREFIX = '/coreos.com/network';
const HOSTS = {
  h1: { ip: '192.168.78.1', kind: 'vxtap' as const, containers: [{ name: 'c1', ip: '10.78.0.11', mac: '02:78:00:00:00:11' }] },
  h2: { ip: '192.168.78.2', kind: 'vxtap' as const, containers: [{ name: 'c2', ip: '10.78.0.21', mac: '02:78:00:00:00:21' }] },
  h3: { ip: '192.168.78.3', kind: 'vxtap' as const, containers: [{ name: 'c3', ip: '10.78.0.31', mac: '02:78:00:00:00:31' }] },
};
/** The registration's TTL (10 s by default, src/control/etcd/vteps.ts), plus etcd's expiry sweep and the watch. */
const LEASE_EXPIRY_MS = 20_000;

test('vxtap --mode l2 with etcd: the flood list follows hosts that join, stop and die', { timeout: 300_000 }, async (t) => {
  if (!needNamespaces(t) || !needEtcd(t)) return;
  const lab = new Lab('vxt-l2e-');
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-l2e-'));
  const fab = new L2Fabric(lab, dir, HOSTS);
  let etcd: EtcdServer | null = null;
  const control = ['--etcd-endpoints', ENDPOINT, '--etcd-prefix', PREFIX];
  /** The flood list of a host, as `vxtap fdb --json` shows it (rows of kind flood), sorted. */
  const flood = (h: string): string[] => fab.fdb(h).filter((r) => r.kind === 'flood').map((r) => r.vtep).sort();
  const ips = (...hs: string[]): string[] => hs.map((h) => fab.hostIp(h)).sort();
  const same = (a: string[], b: string[]): boolean => JSON.stringify(a) === JSON.stringify(b);
  /** The public IPs registered under the segment's prefix. */
  const registered = async (): Promise<string[]> =>
    (await etcd!.ctl(['get', '--prefix', '--keys-only', `${PREFIX}/l2/${VNI}/vteps/`])).split('\n').filter((l) => l.length > 0).map((k) => k.split('/').pop()!).sort();
  try {
    fab.build({ e: `${ETCD_IP}/24` });
    etcd = new EtcdServer({ netns: lab.ns('e'), host: ETCD_IP, clientPort: 2379 });
    await etcd.start();
    // The segment's VNI and port, in flannel's config key (Network is not used in L2 mode).
    await etcd.ctl(['put', `${PREFIX}/config`, JSON.stringify({ Network: '10.78.0.0/16', Backend: { Type: 'vxlan', VNI, Port: PORT } })]);

    await t.test('two hosts register and flood to each other', () => fab.explained(async () => {
      await Promise.all([fab.startVtep('h1', { control }), fab.startVtep('h2', { control })]);
      await fab.waitFor('h1 and h2 flood to each other', () => same(flood('h1'), ips('h2')) && same(flood('h2'), ips('h1')), 5000);
      fab.check(same(await registered(), ips('h1', 'h2')), `etcd holds h1 and h2: ${(await registered()).join(' ')}`);
      fab.ping('c1', 'c2');
      fab.ping('c2', 'c1');
    }));

    await t.test('a host that joins is in every flood list within 5 s, and traffic flows to it', () => fab.explained(async () => {
      await fab.startVtep('h3', { control });
      await fab.waitFor('h3 in every flood list, and h1, h2 in its own', () =>
        same(flood('h1'), ips('h2', 'h3')) && same(flood('h2'), ips('h1', 'h3')) && same(flood('h3'), ips('h1', 'h2')), 5000);
      fab.ping('c3', 'c1');
      fab.ping('c1', 'c3');
      fab.ping('c2', 'c3');
    }));

    await t.test('a host stopped cleanly leaves every flood list (its key is deleted at once)', () => fab.explained(async () => {
      const code = await fab.stopVtep('h3');
      fab.check(code === 0, `vxtap on h3 exits 0 on SIGTERM, got ${code}`);
      await fab.waitFor('h3 gone from h1\'s and h2\'s flood lists', () => same(flood('h1'), ips('h2')) && same(flood('h2'), ips('h1')), 5000);
      fab.check(same(await registered(), ips('h1', 'h2')), `h3's key is gone from etcd: ${(await registered()).join(' ')}`);
      fab.ping('c1', 'c2');
    }));

    await t.test('a host killed with SIGKILL leaves when its lease expires, and its learned MACs go with it', () => fab.explained(async () => {
      await fab.startVtep('h3', { control });
      await fab.waitFor('h3 back in every flood list', () => same(flood('h1'), ips('h2', 'h3')) && same(flood('h2'), ips('h1', 'h3')), 5000);
      fab.ping('c3', 'c1');
      fab.ping('c3', 'c2');
      const c3 = fab.container('c3');
      for (const h of ['h1', 'h2']) fab.check(fab.learned(h, c3.mac)[0]?.vtep === fab.hostIp('h3'), `${h} learned c3 ${c3.mac} behind h3`);
      await fab.stopVtep('h3', 'SIGKILL');
      fab.check(same(await registered(), ips('h1', 'h2', 'h3')), 'right after the kill, h3\'s key is still there (its lease has not run out)');
      await fab.waitFor('h3 and c3\'s MAC gone from h1 and h2', () =>
        same(flood('h1'), ips('h2')) && same(flood('h2'), ips('h1')) && fab.learned('h1', c3.mac).length === 0 && fab.learned('h2', c3.mac).length === 0, LEASE_EXPIRY_MS);
      fab.check(same(await registered(), ips('h1', 'h2')), `h3's key expired: ${(await registered()).join(' ')}`);
      fab.ping('c1', 'c2');
    }));
    await t.test('etcd frozen for longer than the registration TTL: the hosts keep forwarding, their keys come back, and a host that joins afterwards is seen', () => fab.explained(async () => {
      const from = fab.daemons.get('h1')!.lines.length;
      etcd!.pause();
      try {
        // While etcd does not answer, the last known flood lists stay and traffic flows.
        await sleep(4000);
        fab.check(same(flood('h1'), ips('h2')) && same(flood('h2'), ips('h1')), 'the flood lists stay while etcd is away');
        fab.ping('c1', 'c2');
        await sleep(8000); // past the 10 s TTL: etcd expires the leases when it wakes up
      } finally {
        etcd!.resume();
      }
      await fab.waitFor('h1 and h2 registered again and flooding to each other', () => same(flood('h1'), ips('h2')) && same(flood('h2'), ips('h1')), 20000);
      const back = Date.now();
      for (;;) {
        const now = await registered();
        if (same(now, ips('h1', 'h2'))) break;
        if (Date.now() - back > 20000) fab.check(false, `h1 and h2 put their keys back after the expiry: etcd holds ${now.join(' ')}`);
        await sleep(200);
      }
      fab.ping('c1', 'c2');
      fab.ping('c2', 'c1');
      const said = (h: string, re: RegExp): number => fab.daemons.get(h)!.lines.slice(from).filter((l) => re.test(l.msg)).length;
      t.diagnostic(`since the freeze, h1 logged ${said('h1', /registered .* again|putting it back/)} re-registration(s), ${said('h1', /left the flood list/)} VTEP departure(s)`);
      await fab.startVtep('h3', { control });
      await fab.waitFor('h3 in every flood list after the outage', () =>
        same(flood('h1'), ips('h2', 'h3')) && same(flood('h2'), ips('h1', 'h3')) && same(flood('h3'), ips('h1', 'h2')), 5000);
      fab.ping('c3', 'c1');
      fab.ping('c2', 'c3');
    }));
  } finally {
    await fab.stopAll().catch(() => undefined);
    await etcd?.stop();
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
