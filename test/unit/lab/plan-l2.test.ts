/**
 * The lab's L2 plan without namespaces: the addresses `lab up --mode l2`
 * will give, the checks it makes before anything is made, the daemon's
 * command line, and the status table. test/e2e/lab-l2.test.ts builds it for real.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors';
import { DEFAULT_L2_NETWORK, planLab, type LabUpOptions } from '../../../src/lab/plan';
import { makeSay } from '../../../src/lab/say';
import { renderStatus, type LabStatus } from '../../../src/lab/status';
import { daemonArgs, daemonFiles } from '../../../src/lab/vxtap';

const scope = { prefix: 'vxt-x-', stateDir: '/tmp/vxt-x' };
const l2: LabUpOptions = { hosts: 3, kernelPeer: true, network: DEFAULT_L2_NETWORK, vni: 7, port: 4789, underlay: '192.168.93.0/24', trace: true, mode: 'l2' };

test('L2 plan: every container on the one subnet, numbered like the underlay; the kernel host\'s device is vx0', () => {
  const p = planLab(scope, l2);
  assert.deepEqual(p.hosts.map((h) => [h.name, h.ip, h.l2?.containerIp, h.l2?.len]), [
    ['h1', '192.168.93.1', '10.45.0.1', 24],
    ['h2', '192.168.93.2', '10.45.0.2', 24],
    ['h3', '192.168.93.3', '10.45.0.3', 24],
    ['k1', '192.168.93.101', '10.45.0.101', 24],
  ]);
  assert.equal(p.vxlanDev, 'vx0');
  assert.equal(p.tap, 'vxtap.7');
});

test('routed plan (the default, and a state file without a mode): no L2 addresses, flannel\'s device name', () => {
  const { mode: _mode, ...routed } = l2;
  const p = planLab(scope, { ...routed, network: '10.44.0.0/16' });
  assert.equal(p.vxlanDev, 'flannel.7');
  assert.ok(p.hosts.every((h) => h.l2 === undefined));
});

test('L2 plan refuses a network smaller than a /24 and VNI 0, as ConfigErrors naming the flag', () => {
  assert.throws(() => planLab(scope, { ...l2, network: '10.45.0.0/25' }), (e: unknown) => e instanceof ConfigError && /--network: .*\/24 or larger, got \/25/.test(e.message));
  assert.throws(() => planLab(scope, { ...l2, network: 'ten' }), (e: unknown) => e instanceof ConfigError && /^--network: /.test(e.message));
  assert.throws(() => planLab(scope, { ...l2, vni: 0 }), (e: unknown) => e instanceof ConfigError && /--vni: 1 or more with --mode l2/.test(e.message));
});

test('the L2 daemon runs --mode l2 --bridge br0 with its control socket in the state dir, and no subnet file', () => {
  const f = daemonFiles('/tmp/vxt-x', 'h2', true);
  const a = daemonArgs('http://192.168.93.250:2379', f, { bridge: 'br0' });
  assert.deepEqual(a.slice(0, 5), ['run', '--mode', 'l2', '--bridge', 'br0']);
  assert.equal(a[a.indexOf('--control-socket') + 1], '/tmp/vxt-x/h2.sock');
  assert.ok(!a.includes('--subnet-file'));
  const routed = daemonArgs('http://192.168.93.250:2379', f);
  assert.ok(!routed.includes('--mode') && !routed.includes('--control-socket'));
  assert.equal(routed[routed.indexOf('--subnet-file') + 1], '/tmp/vxt-x/h2.subnet.env');
});

test('the L2 status table: the segment, flood lists in address order, VTEP keys; problems in red lines', () => {
  const host = (name: string, ip: string, flood: string[] | null, key: boolean) => ({
    name, kind: 'vxtap' as const, ns: `vxt-x-${name}`, publicIp: ip, subnet: null, vtepMac: '02:76:c0:a8:5d:01', container: `vxt-x-${name}-c`,
    containerIp: '10.45.0.1', running: true, pid: 42, lease: null, containerMac: '02:76:0a:2d:00:01',
    vtepKey: key ? { key: `/coreos.com/network/l2/7/vteps/${ip}`, publicIp: ip, port: 4789, vtepMac: '02:76:c0:a8:5d:01', expiresInSeconds: 9 } : null,
    floodList: flood, healthy: key,
  });
  const s: LabStatus = {
    prefix: 'vxt-x-', stateDir: '/tmp/vxt-x', phase: 'up', mode: 'l2', network: '10.45.0.0/24', vni: 7, port: 4789, underlay: '192.168.93.0/24',
    etcd: { ns: 'vxt-x-etcd', endpoint: 'http://192.168.93.250:2379', pid: 1, running: true },
    hosts: [host('h1', '192.168.93.1', ['192.168.93.101', '192.168.93.2', '192.168.93.10'], true), host('h2', '192.168.93.2', null, false)],
    healthy: false, problems: ['h2: no VTEP key for 192.168.93.2 in etcd'],
  };
  // A stream that is no terminal: no colours in the text.
  const noTty = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream & { isTTY?: boolean };
  const out = renderStatus(s, makeSay(noTty));
  assert.match(out, /^L2 segment: every container on 10\.45\.0\.0\/24; VNI 7, UDP port 4789/);
  assert.match(out, /h1\s+vxtap --mode l2\s+192\.168\.93\.1\s+02:76:c0:a8:5d:01\s+10\.45\.0\.1 \(vxt-x-h1-c\)\s+02:76:0a:2d:00:01\s+up, pid 42\s+192\.168\.93\.2 192\.168\.93\.10 192\.168\.93\.101\s+held, 0m09s left/);
  assert.match(out, /h2 .*\?\s+MISSING/);
  assert.match(out, /problem: h2: no VTEP key/);
});
