/**
 * A bad flag or a bad config names the problem and exits non-zero (2), before
 * vxtap touches any device. These run the real binary, as a user would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VXTAP } from '../../helpers/daemon';

function vxtap(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [VXTAP, ...args], { encoding: 'utf8', timeout: 20000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const dir = mkdtempSync(join(tmpdir(), 'vxtap-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const good = join(dir, 'good.json');
writeFileSync(good, JSON.stringify({ vni: 7, self: { subnet: '10.44.1.0/24' }, peers: [] }));

test('--help lists the run command, and exits 0', () => {
  const r = vxtap('--help');
  assert.equal(r.status, 0);
  assert.match(r.out, /run \[options\]/);
});

test('an unknown command or flag exits 2 and says which', () => {
  let r = vxtap('frobnicate');
  assert.equal(r.status, 2);
  assert.match(r.out, /unknown command 'frobnicate'/);
  r = vxtap('run', '--peers', good, '--no-such-flag');
  assert.equal(r.status, 2);
  assert.match(r.out, /unknown option '--no-such-flag'/);
});

test('bad flag values exit 2 and name the flag', () => {
  const cases: [string[], RegExp][] = [
    [['--io', 'turbo'], /--io.*batch, dgram.*"turbo"/],
    [['--batch-size', '0'], /--batch-size must be an integer in 1\.\.1024/],
    [['--log-format', 'xml'], /--log-format.*"xml"/],
    [['--public-ip', '300.1.1.1'], /--public-ip: not an IPv4 or IPv6 address: "300\.1\.1\.1"/],
  ];
  for (const [flags, re] of cases) {
    const r = vxtap('run', '--peers', good, ...flags);
    assert.equal(r.status, 2, `${flags.join(' ')}: ${r.out}`);
    assert.match(r.out, re, flags.join(' '));
  }
});

test('network init needs --network, and etcd credentials go in pairs', () => {
  let r = vxtap('network', 'init');
  assert.equal(r.status, 2);
  assert.match(r.out, /required option '--network <cidr>'/);
  r = vxtap('leases', '--etcd-username', 'root');
  assert.equal(r.status, 2);
  assert.match(r.out, /--etcd-username and a password \(--etcd-password, --etcd-password-file or VXTAP_ETCD_PASSWORD\) go together/);
  r = vxtap('run', '--peers', good, '--trace-filter', 'hots 10.0.0.1');
  assert.equal(r.status, 2);
  assert.match(r.out, /--trace-filter/);
});

test('--mode: a bad mode, or a flag of the other mode, exits 2 and says which flag needs which mode', () => {
  let r = vxtap('run', '--peers', good, '--mode', 'bridge');
  assert.equal(r.status, 2);
  assert.match(r.out, /'--mode <mode>' argument 'bridge' is invalid\. must be one of routed, l2, got "bridge"/);
  r = vxtap('run', '--peers', good, '--bridge', 'br0');
  assert.equal(r.status, 2);
  assert.match(r.out, /--bridge: only with --mode l2 \(this is --mode routed\)/);
  r = vxtap('run', '--peers', good, '--fdb-max', '10', '--no-arp-suppress');
  assert.equal(r.status, 2);
  assert.match(r.out, /--fdb-max, --no-arp-suppress: only with --mode l2/);
  r = vxtap('run', '--mode', 'l2', '--peers', good, '--ip-masq');
  assert.equal(r.status, 2);
  assert.match(r.out, /--ip-masq: only with --mode routed \(this is --mode l2\)/);
  r = vxtap('run', '--mode', 'l2', '--peers', good, '--vni', '42');
  assert.equal(r.status, 2);
  assert.match(r.out, /--vni, --port: the L2 peers file .* names the segment's VNI and port; these flags are for etcd/);
  r = vxtap('run', '--mode', 'l2', '--fdb-ageing', '0');
  assert.equal(r.status, 2);
  assert.match(r.out, /--fdb-ageing must be an integer in 1\.\./);
  // The defaults of the L2 flags are not "given": routed mode runs with them set.
  r = vxtap('run', '--peers', join(dir, 'missing.json'));
  assert.doesNotMatch(r.out, /only with --mode/);
});

test('a bad L2 peers file exits 2 and names the file and the field', () => {
  const cases: [string, RegExp][] = [
    ['{"vni": 42, "peers": [{"publicIp": "192.168.90.2"}, {"publicIp": "192.168.90.2"}]}', /l2bad\.json.*192\.168\.90\.2/],
    ['{"vni": 0, "peers": []}', /vni.*reserved/],
    ['{"vni": 42, "peers": [{"publicIp": "127.0.0.1"}]}', /peers\[0\]\.publicIp/],
    ['{"vni": 42, "peers": [{"publicIp": "192.168.90.2", "macs": ["ff:ff:ff:ff:ff:ff"]}]}', /peers\[0\]\.macs/],
  ];
  for (const [text, re] of cases) {
    const f = join(dir, 'l2bad.json');
    writeFileSync(f, text);
    const r = vxtap('run', '--mode', 'l2', '--peers', f);
    assert.equal(r.status, 2, `${text}: ${r.out}`);
    assert.match(r.out, re, text);
  }
});

test('a bad peers file exits 2 and names the file and the field', () => {
  const cases: [string, RegExp][] = [
    ['{"vni": 7, "self": {"subnet": "10.44.1.0/24"}, "peers": [', /bad\.json.*JSON/i],
    ['{"vni": 7, "self": {"subnet": "10.44.1.5/24"}, "peers": []}', /self\.subnet.*host bits/],
    ['{"vni": 7, "self": {"subnet": "10.44.1.0/24"}, "peers": [{"subnet": "10.44.2.0/24", "publicIp": "1.2.3"}]}', /peers\[0\]\.publicIp/],
    ['{"vni": 99999999, "self": {"subnet": "10.44.1.0/24"}, "peers": []}', /vni/],
    ['{"vnii": 7, "self": {"subnet": "10.44.1.0/24"}, "peers": []}', /vnii/],
  ];
  for (const [text, re] of cases) {
    const f = join(dir, 'bad.json');
    writeFileSync(f, text);
    const r = vxtap('run', '--peers', f);
    assert.equal(r.status, 2, `${text}: ${r.out}`);
    assert.match(r.out, re, text);
  }
  const r = vxtap('run', '--peers', join(dir, 'missing.json'));
  assert.equal(r.status, 2);
  assert.match(r.out, /missing\.json/);
});
