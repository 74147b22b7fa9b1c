/**
 * The control plane end to end: a real etcd (Debian's etcd-server) on the
 * underlay, in its own namespace, and vxtap daemons that lease subnets from
 * it in flannel's layout.
 *
 *                underlay bridge (ns vxt-etcd-u), 192.168.91.0/24
 *     e .100 (etcd)   h1..h6 .1-.6 (vxtap)   k .9 (kernel vxlan, lease written by etcdctl)
 *
 * Overlay 10.45.0.0/16, VNI 1, port 4789.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needNamespaces, waitFor } from '../helpers/netns';
import { Daemon, VXTAP } from '../helpers/daemon';
import { tcpTransfer } from '../helpers/tcp';
import { EtcdServer, needEtcd, sleep } from '../helpers/etcd';
import { macFromIp } from '../../src/control/peers';

const ETCD_IP = '192.168.91.100';
const ENDPOINT = `http://${ETCD_IP}:2379`;
const PREFIX = '/coreos.com/network';
const TAP = 'vxtap.1';
const hostIp = (i: number): string => `192.168.91.${i}`;
const KERNEL_IP = '192.168.91.9';
const KERNEL_SUBNET = '10.45.200.0/24';

interface Stats { subnet: string; peers: { subnet: string; publicIp: string; vtepMac: string }[]; fdb: { mac: string; vtep: string }[]; arp: { ip: string; mac: string }[]; [k: string]: unknown }

test('vxtap with etcd: leases, peers, restarts, outages, compaction, flannel interop', { timeout: 1_200_000 }, async (t) => {
  if (!needNamespaces(t) || !needEtcd(t)) return;
  const lab = new Lab('vxt-etcd-');
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-etcd-e2e-'));
  let etcd: EtcdServer | null = null;
  const daemons = new Map<string, Daemon>();
  try {
    const hosts: Record<string, string> = { e: `${ETCD_IP}/24`, k: `${KERNEL_IP}/24` };
    for (let i = 1; i <= 6; i++) hosts[`h${i}`] = `${hostIp(i)}/24`;
    lab.underlay('u', hosts);
    for (const h of Object.keys(hosts)) lab.exec(h, ['ip', 'route', 'add', 'default', 'dev', 'eth0']);
    etcd = new EtcdServer({ netns: lab.ns('e'), host: ETCD_IP, clientPort: 2379 });
    await etcd.start();

    const vx = (host: string, ...args: string[]) => lab.tryExec(host, [process.execPath, VXTAP, ...args, '--etcd-endpoints', ENDPOINT]);
    const start = (host: string, ...extra: string[]): Daemon => {
      const d = new Daemon(lab, host, ['--etcd-endpoints', ENDPOINT, '--subnet-file', join(dir, `${host}.env`), ...extra]);
      daemons.set(host, d);
      return d;
    };
    const stats = async (host: string): Promise<Stats> => (await daemons.get(host)!.stats()) as unknown as Stats;
    /** The routes through the TAP ('' when the TAP is gone: the daemon is down). */
    const routes = (host: string): string => lab.tryExec(host, ['ip', 'route', 'show', 'dev', TAP]).stdout;
    const ping = (from: string, to: string): void => {
      const out = lab.exec(from, ['ping', '-c', '2', '-i', '0.2', '-W', '2', to]);
      assert.match(out, / 0% packet loss/, `ping ${from} -> ${to}:\n${out}`);
    };
    const gw = (subnet: string): string => subnet.split('/')[0]!;

    await t.test('bad configs name the problem and exit non-zero; an unreachable etcd is a logged retry', async () => {
      await etcd!.ctl(['put', '/bad1/config', 'not json']);
      let r = lab.tryExec('h1', [process.execPath, VXTAP, 'run', '--etcd-endpoints', ENDPOINT, '--etcd-prefix', '/bad1', '--log-format', 'json']);
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /config.*JSON/i);
      await etcd!.ctl(['put', '/bad2/config', '{"Network":"10.46.0.0/33","Backend":{"Type":"vxlan"}}']);
      r = lab.tryExec('h1', [process.execPath, VXTAP, 'run', '--etcd-endpoints', ENDPOINT, '--etcd-prefix', '/bad2', '--log-format', 'json']);
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /Network/);
      await etcd!.ctl(['put', '/bad3/config', '{"Network":"10.46.0.0/16","Backend":{"Type":"host-gw"}}']);
      r = lab.tryExec('h1', [process.execPath, VXTAP, 'run', '--etcd-endpoints', ENDPOINT, '--etcd-prefix', '/bad3', '--log-format', 'json']);
      assert.equal(r.status, 2, r.stdout + r.stderr);
      assert.match(r.stderr, /Backend\.Type/);
      // A full network: a /24 cut into /26s leaves SubnetMin..SubnetMax = 3 subnets; fill them.
      await etcd!.ctl(['put', '/full/config', '{"Network":"10.46.0.0/24","SubnetLen":26,"Backend":{"Type":"vxlan","Port":4789}}']);
      for (const [i, s] of ['10.46.0.64-26', '10.46.0.128-26', '10.46.0.192-26'].entries()) {
        await etcd!.ctl(['put', `/full/subnets/${s}`, JSON.stringify({ PublicIP: `192.168.99.${i + 1}`, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: macFromIp(`192.168.99.${i + 1}`) } })]);
      }
      r = lab.tryExec('h1', [process.execPath, VXTAP, 'run', '--etcd-endpoints', ENDPOINT, '--etcd-prefix', '/full', '--log-format', 'json']);
      assert.equal(r.status, 1, r.stdout + r.stderr);
      assert.match(r.stderr, /full/i);
      // Unreachable etcd at start: retry, logged once, until told to stop.
      const d = new Daemon(lab, 'h1', ['--etcd-endpoints', `http://${ETCD_IP}:2999`, '--subnet-file', join(dir, 'x.env')]);
      await d.waitLog(/retrying/, 15000);
      await sleep(3000);
      assert.equal(d.exitCode, null, 'still running, retrying');
      assert.equal(d.lines.filter((l) => /retrying/.test(l.msg)).length, 1, 'the retry is logged once, not in a loop');
      assert.equal(await d.stop(), 0);
    });

    await t.test('network init writes flannel\'s config; network show reads it back', () => {
      const r = vx('h1', 'network', 'init', '--network', '10.45.0.0/16');
      assert.equal(r.status, 0, r.stderr);
      const show = vx('h1', 'network', 'show', '--json');
      const cfg = JSON.parse(show.stdout) as { Network: string; SubnetLen: number; Backend: { Type: string; VNI: number; Port: number } };
      assert.deepEqual([cfg.Network, cfg.SubnetLen, cfg.Backend.Type, cfg.Backend.VNI, cfg.Backend.Port], ['10.45.0.0/16', 24, 'vxlan', 1, 4789]);
      assert.equal(vx('h1', 'network', 'init', '--network', '10.45.0.0/16').status, 1, 'an existing config is not replaced without --force');
    });

    const subnets = new Map<string, string>();
    await t.test('five daemons started at once get five distinct subnets, and reach each other', async () => {
      const five = ['h1', 'h2', 'h3', 'h4', 'h5'].map((h) => start(h));
      await Promise.all(five.map((d) => d.up()));
      for (const h of ['h1', 'h2', 'h3', 'h4', 'h5']) subnets.set(h, (await stats(h)).subnet);
      assert.equal(new Set(subnets.values()).size, 5, [...subnets.values()].join(' '));
      for (const s of subnets.values()) assert.match(s, /^10\.45\.\d+\.0\/24$/);
      const env = readFileSync(join(dir, 'h1.env'), 'utf8');
      assert.match(env, /FLANNEL_NETWORK=10\.45\.0\.0\/16/);
      assert.match(env, new RegExp(`FLANNEL_SUBNET=${gw(subnets.get('h1')!).replace(/\.0$/, '.1')}/24`));
      assert.match(env, /FLANNEL_MTU=1450/);
      const leases = JSON.parse(vx('h1', 'leases', '--json').stdout) as { subnet: string; publicIp: string }[];
      assert.equal(leases.length, 5);
      await waitFor('every host has 4 peer routes', () => ['h1', 'h2', 'h3', 'h4', 'h5'].every((h) => routes(h).trim().split('\n').length === 4), 10000);
      ping('h1', gw(subnets.get('h5')!));
      ping('h5', gw(subnets.get('h1')!));
    });

    for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
      await t.test(`a daemon restarted after ${sig} gets its subnet back; its peers keep their routes`, async () => {
        const mine = subnets.get('h1')!;
        let gaps = 0;
        let watching = true;
        const watcher = (async () => {
          while (watching) {
            if (!routes('h2').includes(mine)) gaps++;
            await sleep(100);
          }
        })();
        const d = daemons.get('h1')!;
        if (sig === 'SIGKILL') lab.exec('h1', ['kill', '-9', String(d.pid)]);
        else assert.equal(await d.stop(), 0);
        await waitFor('h1 exit', () => d.exitCode !== null, 10000);
        await start('h1').up();
        watching = false;
        await watcher;
        assert.equal((await stats('h1')).subnet, mine);
        assert.equal(gaps, 0, 'h2 never lost its route to h1 while h1 restarted');
        ping('h2', gw(mine));
      });
    }

    await t.test('a peer\'s delete, a TTL expiry and a changed VTEP MAC reach every host within 5 s', async () => {
      // A fake host, written by etcdctl, on a 4 s etcd lease.
      const grant = await etcd!.ctl(['lease', 'grant', '4']);
      const id = /lease ([0-9a-f]+) granted/.exec(grant)![1]!;
      const fake = (mac: string) => JSON.stringify({ PublicIP: '192.168.91.77', PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: mac } });
      await etcd!.ctl(['put', `${PREFIX}/subnets/10.45.250.0-24`, fake('02:aa:00:00:00:01'), `--lease=${id}`]);
      await waitFor('the fake host on h1', () => routes('h1').includes('10.45.250.0/24'), 5000);
      await etcd!.ctl(['put', `${PREFIX}/subnets/10.45.250.0-24`, fake('02:aa:00:00:00:02'), `--lease=${id}`]);
      await waitFor('the new MAC on h1', async () => (await stats('h1')).arp.some((a) => a.ip === '10.45.250.0' && a.mac === '02:aa:00:00:00:02'), 5000);
      const s = await stats('h1');
      assert.ok(!s.fdb.some((f) => f.mac === '02:aa:00:00:00:01'), 'the old FDB entry is gone');
      assert.ok(s.fdb.some((f) => f.mac === '02:aa:00:00:00:02' && f.vtep === '192.168.91.77'));
      const expiredAt = Date.now() + 4000;
      await waitFor('expiry removes the route on h1..h5', () => ['h1', 'h2', 'h3', 'h4', 'h5'].every((h) => !routes(h).includes('10.45.250.0/24')), 15000);
      assert.ok(Date.now() - expiredAt < 5000 + 2000, 'removed within 5 s of the expiry (etcd checks leases every ~0.5 s)');
      const after = await stats('h2');
      assert.ok(!after.fdb.some((f) => f.vtep === '192.168.91.77') && !after.arp.some((a) => a.ip === '10.45.250.0'), 'FDB and ARP entries are removed too');
      // A real host's lease deleted by an operator: h5 stops (keeping its lease), then the key goes.
      const h5 = subnets.get('h5')!;
      assert.equal(await daemons.get('h5')!.stop(), 0);
      await etcd!.ctl(['del', `${PREFIX}/subnets/${h5.replace('/', '-')}`]);
      const t0 = Date.now();
      await waitFor('h5 removed everywhere', () => ['h1', 'h2', 'h3', 'h4'].every((h) => !routes(h).includes(h5)), 5000);
      t.diagnostic(`delete reached 4 hosts in ${Date.now() - t0} ms`);
    });

    await t.test('a short-TTL lease is renewed; a deleted own lease is taken again', async () => {
      const d = start('h5', '--subnet-lease-ttl', '4', '--subnet-lease-renew-margin', '2');
      await d.up();
      const mine = (await stats('h5')).subnet;
      await d.waitLog(/^Lease renewed/, 10000);
      await sleep(5000); // past the first TTL
      assert.match(await etcd!.ctl(['get', `${PREFIX}/subnets/${mine.replace('/', '-')}`]), /192\.168\.91\.5/);
      await etcd!.ctl(['del', `${PREFIX}/subnets/${mine.replace('/', '-')}`]);
      await d.waitLog(/took the lease of .* again/, 10000);
      assert.match(await etcd!.ctl(['get', `${PREFIX}/subnets/${mine.replace('/', '-')}`]), /192\.168\.91\.5/, 'the same subnet');
      await waitFor('h1 has h5 again', () => routes('h1').includes(mine), 5000);
      subnets.set('h5', mine);
    });

    await t.test('etcd down for 30 s: no ping is lost; a host that joins meanwhile is picked up within 5 s of etcd\'s return', async () => {
      const target = gw(subnets.get('h2')!);
      const pinger = lab.spawn('h1', ['ping', '-c', '170', '-i', '0.2', '-W', '1', target]);
      let pingOut = '';
      pinger.stdout!.on('data', (d: Buffer) => { pingOut += d.toString(); });
      await sleep(1000);
      await etcd!.kill();
      const h6 = start('h6');
      await h6.waitLog(/retrying/, 15000);
      await sleep(30000);
      await etcd!.start();
      const back = Date.now();
      await h6.up();
      const s6 = (await stats('h6')).subnet;
      await waitFor('h1..h5 learn h6', () => ['h1', 'h2', 'h3', 'h4', 'h5'].every((h) => routes(h).includes(s6)), 15000);
      const took = Date.now() - back;
      t.diagnostic(`h6 reached every host ${took} ms after etcd came back`);
      assert.ok(took < 5000, `took ${took} ms`);
      await new Promise<void>((resolve) => { if (pinger.exitCode !== null) resolve(); else pinger.once('exit', () => resolve()); });
      assert.match(pingOut, /170 packets transmitted, 170 received, 0% packet loss/, pingOut.split('\n').slice(-4).join('\n'));
      assert.ok(daemons.get('h1')!.lines.filter((l) => /etcd unreachable/.test(l.msg)).length <= 2, 'the outage is logged once, not in a loop');
      ping('h6', gw(subnets.get('h1')!));
    });

    await t.test('after a compaction the watch resyncs: the tables equal etcd\'s state', async () => {
      // Cut h1 off from etcd, change leases and compact past h1's revision, then let it back.
      const h1 = daemons.get('h1')!;
      const mark = h1.lines.length;
      lab.exec('h1', ['ip', 'route', 'add', 'prohibit', `${ETCD_IP}/32`]);
      await h1.waitLog(/etcd unreachable/, 30000, mark);
      const lease = (ip: string) => JSON.stringify({ PublicIP: ip, BackendType: 'vxlan', BackendData: { VNI: 1, VtepMAC: macFromIp(ip) } });
      await etcd!.ctl(['put', `${PREFIX}/subnets/10.45.240.0-24`, lease('192.168.91.240')]);
      await etcd!.ctl(['put', `${PREFIX}/subnets/10.45.241.0-24`, lease('192.168.91.241')]);
      await etcd!.ctl(['del', `${PREFIX}/subnets/10.45.240.0-24`]);
      await etcd!.compact();
      lab.exec('h1', ['ip', 'route', 'del', 'prohibit', `${ETCD_IP}/32`]);
      const resync = await h1.waitLog(/resynced/, 30000, mark);
      // The watch comes back by re-listing (reason 'reconnected'), which is immune to the compacted
      // history; a watch that etcd cancels for compaction says 'compacted' (test/control/etcd covers it).
      assert.ok(['reconnected', 'compacted'].includes(resync['reason'] as string), `the resync says why: ${JSON.stringify(resync)}`);
      await waitFor('h1 has 10.45.241.0/24 and not 10.45.240.0/24', () => routes('h1').includes('10.45.241.0/24') && !routes('h1').includes('10.45.240.0/24'), 5000);
      const s = await stats('h1');
      const inEtcd = JSON.parse(vx('h2', 'leases', '--json').stdout) as { subnet: string }[];
      const expected = inEtcd.map((l) => l.subnet).filter((x) => x !== s.subnet).sort();
      assert.deepEqual(s.peers.map((p) => p.subnet).sort(), expected, 'peers = the leases in etcd, minus our own');
      await etcd!.ctl(['del', `${PREFIX}/subnets/10.45.241.0-24`]);
    });

    await t.test('a kernel vxlan host with a flannel lease (written by etcdctl) and vxtap hosts reach each other: ping, and TCP both ways at the kernel host\'s default offloads', async (t: TestContext) => {
      // The kernel host as flannel's vxlan backend configures it, its underlay veth at its default
      // offloads: its inner checksums arrive partial, and vxtap finishes them (README).
      lab.exec('k', ['ip', 'link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'dstport', '4789', 'local', KERNEL_IP, 'dev', 'eth0', 'nolearning']);
      lab.exec('k', ['ip', 'link', 'set', 'flannel.1', 'mtu', '1450', 'up']);
      lab.exec('k', ['ip', 'addr', 'add', `${gw(KERNEL_SUBNET)}/32`, 'dev', 'flannel.1']);
      const kmac = (JSON.parse(lab.exec('k', ['ip', '-j', 'link', 'show', 'flannel.1'])) as { address: string }[])[0]!.address;
      await etcd!.ctl(['put', `${PREFIX}/subnets/${KERNEL_SUBNET.replace('/', '-')}`,
        `{"PublicIP":"${KERNEL_IP}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${kmac}"}}`]);
      // What flannel on k would do with the vxtap hosts' leases: neigh, fdb, route.
      const leases = JSON.parse(vx('h1', 'leases', '--json').stdout) as { subnet: string; publicIp: string; vtepMac: string }[];
      for (const l of leases.filter((x) => x.publicIp !== KERNEL_IP)) {
        lab.exec('k', ['ip', 'neigh', 'replace', gw(l.subnet), 'lladdr', l.vtepMac, 'dev', 'flannel.1', 'nud', 'permanent']);
        lab.exec('k', ['bridge', 'fdb', 'append', l.vtepMac, 'dev', 'flannel.1', 'dst', l.publicIp]);
        lab.exec('k', ['ip', 'route', 'replace', l.subnet, 'via', gw(l.subnet), 'dev', 'flannel.1', 'onlink']);
      }
      await waitFor('the vxtap hosts learn the kernel host', () => ['h1', 'h2'].every((h) => routes(h).includes(KERNEL_SUBNET)), 5000);
      ping('h1', gw(KERNEL_SUBNET));
      ping('k', gw(subnets.get('h1')!));
      ping('k', gw(subnets.get('h2')!));
      const repaired = async (): Promise<number> => ((await stats('h1'))['tapPort'] as { csumRepaired: number }).csumRepaired;
      const before = await repaired();
      await tcpTransfer(lab, 'h1', 'k', gw(KERNEL_SUBNET), 5);
      await tcpTransfer(lab, 'k', 'h1', gw(subnets.get('h1')!), 5);
      assert.ok((await repaired()) > before, 'h1 finished the kernel host\'s partial checksums');
      t.diagnostic(`kernel host ${KERNEL_IP} VtepMAC ${kmac} reached from and to vxtap hosts, TCP both ways`);
    });

    await t.test('SIGTERM removes the routes and keeps the lease', async () => {
      const mine = subnets.get('h2')!;
      assert.equal(await daemons.get('h2')!.stop(), 0);
      assert.equal(routes('h2').trim(), '', 'no routes left on h2');
      assert.match(await etcd!.ctl(['get', `${PREFIX}/subnets/${mine.replace('/', '-')}`]), /192\.168\.91\.2/, 'the lease stays for a restart');
    });
  } finally {
    for (const d of daemons.values()) await d.stop().catch(() => undefined);
    await etcd?.stop();
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
