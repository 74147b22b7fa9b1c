/**
 * Flags with flannel's names have flannel's meaning (issue #11): the renew
 * margin in minutes, --iface by name or address and repeatable, with
 * --iface-regex and --iface-can-reach, every flag from the environment
 * (VXTAP_*, FLANNELD_*), the etcd password from a file. The binary runs as a
 * user would; the interface choice runs against a fake kernel.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { VXTAP } from '../../helpers/daemon';
import { bindEnv } from '../../../src/cli/env-flags';
import { etcdClientOptions } from '../../../src/cli/etcd-flags';
import { pickUnderlay, type UnderlayKernel } from '../../../src/control/underlay-pick';
import type { LinkInfo, RouteInfo, Underlay } from '../../../src/control/kernel';

const dir = mkdtempSync(join(tmpdir(), 'vxtap-flags-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function vxtap(args: string[], env: Record<string, string> = {}): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [VXTAP, ...args], { encoding: 'utf8', timeout: 20000, env: { ...process.env, ...env } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('--subnet-lease-renew-margin counts minutes, 1-1439, as flannel\'s does', () => {
  for (const bad of ['0', '1440', '3600']) {
    const r = vxtap(['run', '--subnet-lease-renew-margin', bad]);
    assert.equal(r.status, 2, r.out);
    assert.match(r.out, /--subnet-lease-renew-margin.*1.*1439/);
  }
  assert.match(vxtap(['run', '--help']).out, /--subnet-lease-renew-margin <minutes>.*\(default: 60/);
});

test('the subnet file defaults to flannel\'s path, where its CNI plugin reads it', () => {
  assert.match(vxtap(['run', '--help']).out, /default: "\/run\/flannel\/subnet\.env"/);
});

test('environment: VXTAP_<FLAG>, and FLANNELD_<FLAG> for flannel\'s flags; the command line wins', async () => {
  const make = (): { cmd: Command; seen: () => Record<string, unknown> } => {
    let got: Record<string, unknown> = {};
    const cmd = new Command('run').exitOverride()
      .option('--etcd-endpoints <urls>', '', 'http://127.0.0.1:2379')
      .addOption(new Option('--iface <x>').argParser((v: string, p: string[] | undefined) => [...(p ?? []), ...v.split(',')]))
      .option('--ip-masq', '')
      .option('--tap <name>', '')
      .action((o: Record<string, unknown>) => { got = o; });
    return { cmd, seen: () => got };
  };
  let env: NodeJS.ProcessEnv = { FLANNELD_ETCD_ENDPOINTS: 'http://10.0.0.1:2379', FLANNELD_IFACE: 'eth1,10.1.2.3', FLANNELD_IP_MASQ: 'true', FLANNELD_TAP: 'ignored' };
  let m = make();
  bindEnv(m.cmd, env);
  Object.assign(process.env, env);
  try {
    await m.cmd.parseAsync([], { from: 'user' });
    assert.equal(m.seen()['etcdEndpoints'], 'http://10.0.0.1:2379');
    assert.deepEqual(m.seen()['iface'], ['eth1', '10.1.2.3']);
    assert.equal(m.seen()['ipMasq'], true);
    assert.equal(m.seen()['tap'], undefined, '--tap is not flannel\'s: FLANNELD_TAP means nothing');
    // VXTAP_ wins over FLANNELD_, the command line over both.
    m = make();
    env = { ...env, VXTAP_ETCD_ENDPOINTS: 'http://10.0.0.2:2379' };
    process.env['VXTAP_ETCD_ENDPOINTS'] = 'http://10.0.0.2:2379';
    bindEnv(m.cmd, env);
    await m.cmd.parseAsync([], { from: 'user' });
    assert.equal(m.seen()['etcdEndpoints'], 'http://10.0.0.2:2379');
    m = make();
    bindEnv(m.cmd, env);
    await m.cmd.parseAsync(['--etcd-endpoints', 'http://10.0.0.3:2379'], { from: 'user' });
    assert.equal(m.seen()['etcdEndpoints'], 'http://10.0.0.3:2379');
  } finally {
    for (const k of [...Object.keys(env), 'VXTAP_ETCD_ENDPOINTS', 'VXTAP_IFACE', 'VXTAP_IP_MASQ']) delete process.env[k];
  }
  // A boolean variable: false leaves the flag off; nonsense is an error naming the variable.
  const off: NodeJS.ProcessEnv = { VXTAP_IP_MASQ: 'false' };
  bindEnv(make().cmd, off);
  assert.equal(off['VXTAP_IP_MASQ'], undefined);
  assert.throws(() => bindEnv(make().cmd, { VXTAP_IP_MASQ: 'maybe' }), /VXTAP_IP_MASQ.*not a boolean/);
});

test('the real binary reads FLANNELD_* (a bad value named by its variable\'s flag)', () => {
  const r = vxtap(['run'], { FLANNELD_SUBNET_LEASE_RENEW_MARGIN: '5000' });
  assert.equal(r.status, 2, r.out);
  assert.match(r.out, /--subnet-lease-renew-margin/);
  const s = vxtap(['run'], { FLANNELD_IFACE_REGEX: '(' });
  assert.equal(s.status, 2, s.out);
  assert.match(s.out, /--iface-regex.*not a regular expression/);
});

test('the etcd password from a file (its first line) or the environment, never both ways at once', () => {
  const file = join(dir, 'pw');
  writeFileSync(file, 's3cret\nignored\n');
  const base = { etcdEndpoints: 'http://127.0.0.1:2379', etcdPrefix: '/p', etcdUsername: 'root' };
  assert.equal(etcdClientOptions({ ...base, etcdPasswordFile: file }).password, 's3cret');
  assert.throws(() => etcdClientOptions({ ...base, etcdPasswordFile: file, etcdPassword: 'x' }), /give one/);
  assert.throws(() => etcdClientOptions({ ...base, etcdPasswordFile: join(dir, 'none') }), /--etcd-password-file/);
  assert.throws(() => etcdClientOptions(base), /go together/);
});

/** A host with eth0 (192.168.90.1/24, the default route), eth1 (10.1.2.3/16) and wg0 (172.20.0.1/24). */
function fakeKernel(): UnderlayKernel {
  const links: LinkInfo[] = [
    { index: 1, name: 'lo', mtu: 65536, mac: '00:00:00:00:00:00', up: true, master: 0 },
    { index: 2, name: 'eth0', mtu: 1500, mac: '02:00:00:00:00:01', up: true, master: 0 },
    { index: 3, name: 'eth1', mtu: 9000, mac: '02:00:00:00:00:02', up: true, master: 0 },
    { index: 4, name: 'wg0', mtu: 1420, mac: '02:00:00:00:00:03', up: true, master: 0 },
  ];
  const addrs: Record<string, string[]> = { lo: ['127.0.0.1/8'], eth0: ['192.168.90.1/24'], eth1: ['10.1.2.3/16', '10.1.9.9/16'], wg0: ['172.20.0.1/24'] };
  const routes: RouteInfo[] = [
    { dst: '0.0.0.0/0', gateway: '192.168.90.254', dev: 'eth0', onlink: false, protocol: 3 },
    { dst: '10.1.0.0/16', dev: 'eth1', onlink: false, protocol: 2 },
    { dst: '10.0.0.0/8', gateway: '172.20.0.9', dev: 'wg0', onlink: false, protocol: 4 },
  ];
  const underlay = (name?: string): Promise<Underlay> => {
    const l = links.find((x) => x.name === (name ?? 'eth0'))!;
    return Promise.resolve({ name: l.name, ip: addrs[l.name]![0]!.split('/')[0]!, mtu: l.mtu });
  };
  return {
    links: () => Promise.resolve(links),
    ipv4Addresses: (name: string) => Promise.resolve(addrs[name] ?? []),
    routes: () => Promise.resolve(routes),
    underlay,
  } as UnderlayKernel;
}

test('--iface: a name or an address, the first that exists wins; none existing is an error', async () => {
  const k = fakeKernel();
  assert.deepEqual(await pickUnderlay(k, {}), { name: 'eth0', ip: '192.168.90.1', mtu: 1500 });
  assert.deepEqual(await pickUnderlay(k, { ifaces: ['eth9', 'eth1'] }), { name: 'eth1', ip: '10.1.2.3', mtu: 9000 });
  assert.deepEqual(await pickUnderlay(k, { ifaces: ['10.1.9.9', 'eth0'] }), { name: 'eth1', ip: '10.1.9.9', mtu: 9000 }, 'an address picks its interface and is the public IP');
  await assert.rejects(pickUnderlay(k, { ifaces: ['eth9', '10.9.9.9'] }), /--iface: none of eth9, 10\.9\.9\.9/);
});

test('--iface-regex: addresses first, then names; --iface-can-reach: the longest-prefix route', async () => {
  const k = fakeKernel();
  assert.deepEqual(await pickUnderlay(k, { regexes: ['^172\\.20\\.'] }), { name: 'wg0', ip: '172.20.0.1', mtu: 1420 });
  assert.deepEqual(await pickUnderlay(k, { regexes: ['^eth1$'] }), { name: 'eth1', ip: '10.1.2.3', mtu: 9000 });
  await assert.rejects(pickUnderlay(k, { regexes: ['^nomatch$'] }), /--iface-regex: no IPv4 address or interface name matches/);
  assert.equal((await pickUnderlay(k, { canReach: '10.1.200.1' })).name, 'eth1', '10.1/16 is longer than 10/8');
  assert.equal((await pickUnderlay(k, { canReach: '10.200.0.1' })).name, 'wg0');
  assert.equal((await pickUnderlay(k, { canReach: '8.8.8.8' })).name, 'eth0', 'the default route');
});
