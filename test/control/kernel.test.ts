/**
 * KernelNet against real rtnetlink, in network namespaces. The code under
 * test runs in a child (child-kernel.js) inside the namespace; the results are
 * checked with `ip -j`. No `dummy` links on these machines: a veth pair with
 * both ends up stands in for the TAP (it has carrier, so onlink routes are
 * accepted, as they are on a TAP held open by the daemon).
 *
 * Host "a": v0 (192.168.77.1/24, default route via .254) <-veth-> v1 (the VTEP).
 * Host "b": lo and a veth w0 <-> w1 without addresses; no default route.
 *
 * Routes are owned (issue #9): vxtap's routes carry RTPROT_VXTAP; a route to
 * the same destination that is not ours (connected, another daemon's, at any
 * metric, in the main table) is a conflict and stays as it is; deleting
 * removes only ours.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Lab, namespaceBlocker, needNamespaces } from '../helpers/netns';
import type { Op, Outcome } from './child-kernel';
import { RTPROT_VXTAP } from '../../src/control/kernel';

const CHILD = join(__dirname, 'child-kernel.js');
const canRun = namespaceBlocker() === null;
let lab: Lab | null = null;

function kernel(host: string, ops: Op[]): Outcome[] {
  const out = lab!.exec(host, ['node', CHILD, JSON.stringify(ops)]);
  return JSON.parse(out) as Outcome[];
}

/** Runs one op and returns its result; fails the test on an error. */
function ok(host: string, o: Op): unknown {
  const [r] = kernel(host, [o]);
  assert.ok(r && 'ok' in r, `${o.op} failed: ${JSON.stringify(r)}`);
  return r.ok;
}

/** Runs one op that must fail; returns the error. */
function fails(host: string, o: Op): { name: string; code?: string; errno?: string; message: string } {
  const [r] = kernel(host, [o]);
  assert.ok(r && 'error' in r, `${o.op} should have failed: ${JSON.stringify(r)}`);
  return r.error;
}

function ipj<T>(host: string, args: string[]): T {
  return JSON.parse(lab!.exec(host, ['ip', '-j', ...args])) as T;
}

interface IpLink { ifindex: number; ifname: string; mtu: number; address: string; flags: string[] }
interface IpAddr { addr_info: { family: string; local: string; prefixlen: number }[] }
interface IpRoute { dst: string; gateway?: string; dev: string; flags: string[]; protocol?: string }

// Each test calls needNamespaces(t) first: it skips with the reason here, and
// fails under CI=true. The tests run in order and build on each other's state.
describe('KernelNet over rtnetlink', () => {
  before(() => {
    if (!canRun) return;
    lab = new Lab('vxt-nl-');
    lab.addNs('a');
    lab.addNs('b');
    const ip = (...args: string[]): string => lab!.exec('a', ['ip', ...args]);
    ip('link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1');
    ip('link', 'set', 'v0', 'up');
    ip('addr', 'add', '192.168.77.1/24', 'dev', 'v0');
    ip('route', 'add', 'default', 'via', '192.168.77.254', 'dev', 'v0');
    lab.exec('b', ['ip', 'link', 'add', 'w0', 'type', 'veth', 'peer', 'name', 'w1']);
  });
  after(async () => {
    if (lab) await lab.cleanup();
  });

  test('link(): index, name, MTU, MAC, up, as `ip` sees them; null for a missing link', (t) => {
    if (!needNamespaces(t)) return;
    const [want] = ipj<IpLink[]>('a', ['link', 'show', 'v0']);
    assert.deepEqual(ok('a', { op: 'link', name: 'v0' }), {
      index: want!.ifindex, name: 'v0', mtu: want!.mtu, mac: want!.address, up: true, master: 0,
    });
    assert.equal((ok('a', { op: 'link', name: 'v1' }) as { up: boolean }).up, false);
    assert.equal(ok('a', { op: 'link', name: 'nope0' }), null);
  });

  test('setLink(): MAC, MTU and up in one call, then down and up again', (t) => {
    if (!needNamespaces(t)) return;
    ok('a', { op: 'setLink', name: 'v1', change: { mac: '02:76:C0:A8:4D:01', mtu: 1450, up: true } });
    let [l] = ipj<IpLink[]>('a', ['link', 'show', 'v1']);
    assert.equal(l!.address, '02:76:c0:a8:4d:01');
    assert.equal(l!.mtu, 1450);
    assert.ok(l!.flags.includes('UP'), `flags ${l!.flags.join(',')}`);

    ok('a', { op: 'setLink', name: 'v1', change: { up: false } });
    [l] = ipj<IpLink[]>('a', ['link', 'show', 'v1']);
    assert.ok(!l!.flags.includes('UP'));
    ok('a', { op: 'setLink', name: 'v1', change: { up: true } });
    [l] = ipj<IpLink[]>('a', ['link', 'show', 'v1']);
    assert.ok(l!.flags.includes('UP'));
  });

  test('replaceAddress() twice leaves one address (idempotent); ipv4Addresses() lists it', (t) => {
    if (!needNamespaces(t)) return;
    const r = kernel('a', [
      { op: 'replaceAddress', name: 'v1', cidr: '10.44.1.0/32' },
      { op: 'replaceAddress', name: 'v1', cidr: '10.44.1.0/32' },
      { op: 'ipv4Addresses', name: 'v1' },
      { op: 'ipv4Addresses', name: 'v0' },
    ]);
    assert.deepEqual(r, [{ ok: null }, { ok: null }, { ok: ['10.44.1.0/32'] }, { ok: ['192.168.77.1/24'] }]);
    const [a] = ipj<IpAddr[]>('a', ['-4', 'addr', 'show', 'v1']);
    assert.deepEqual(a!.addr_info.map((x) => `${x.local}/${x.prefixlen}`), ['10.44.1.0/32']);
  });

  test('replaceRoute(): an onlink peer route, twice, shows once in `ip route`; routes() lists it', (t) => {
    if (!needNamespaces(t)) return;
    kernel('a', [
      { op: 'replacePeerRoute', subnet: '10.44.2.0/24', dev: 'v1' },
      { op: 'replacePeerRoute', subnet: '10.44.2.0/24', dev: 'v1' },
    ]).forEach((r) => assert.deepEqual(r, { ok: null }));
    const routes = ipj<IpRoute[]>('a', ['route', 'show', '10.44.2.0/24']);
    assert.equal(routes.length, 1, JSON.stringify(routes));
    assert.equal(routes[0]!.gateway, '10.44.2.0');
    assert.equal(routes[0]!.dev, 'v1');
    assert.ok(routes[0]!.flags.includes('onlink'), `flags ${JSON.stringify(routes[0]!.flags)}`);

    assert.deepEqual(ok('a', { op: 'routes', dev: 'v1' }), [{ dst: '10.44.2.0/24', gateway: '10.44.2.0', dev: 'v1', onlink: true, protocol: RTPROT_VXTAP }]);
    // Ours, by protocol: what an operator lists with `ip route show proto 118`.
    assert.deepEqual(ipj<IpRoute[]>('a', ['route', 'show', 'proto', String(RTPROT_VXTAP)]).map((r) => `${r.dst} ${r.dev}`), ['10.44.2.0/24 v1']);
    const all = ok('a', { op: 'routes' }) as { dst: string }[];
    assert.deepEqual(all.map((r) => r.dst).sort(), ['0.0.0.0/0', '10.44.2.0/24', '192.168.77.0/24']);
  });

  test('deleteRoute(): removes it; a missing route (or device) is not an error', (t) => {
    if (!needNamespaces(t)) return;
    const route = { dst: '10.44.2.0/24', gateway: '10.44.2.0', dev: 'v1', onlink: true };
    assert.deepEqual(kernel('a', [
      { op: 'deleteRoute', route },
      { op: 'deleteRoute', route },
      { op: 'deleteRoute', route: { ...route, dev: 'nope0' } },
    ]), [{ ok: null }, { ok: null }, { ok: null }]);
    assert.deepEqual(ipj<IpRoute[]>('a', ['route', 'show', '10.44.2.0/24']), []);
  });

  test('routes are owned: a route vxtap did not install is never replaced (a conflict), ours is', (t) => {
    if (!needNamespaces(t)) return;
    const ip = (...args: string[]): string => lab!.exec('a', ['ip', ...args]);
    const show = (dst: string): string[] => ipj<IpRoute[]>('a', ['route', 'show', 'exact', dst])
      // `ip -j` leaves out `protocol` when it is boot, the default of `ip route add`.
      .map((r) => `${r.dst}${r.gateway ? ` via ${r.gateway}` : ''} dev ${r.dev} proto ${r.protocol ?? 'boot'}`);
    const conflictOn = (o: Op): void => {
      const e = fails('a', o);
      assert.equal(e.name, 'RouteConflictError', JSON.stringify(e));
      assert.equal(e.code, 'VXTAP_ERR_ROUTE_CONFLICT');
    };

    // The kernel's connected route of the underlay's own /24 (a lease for it must not take the underlay).
    conflictOn({ op: 'replacePeerRoute', subnet: '192.168.77.0/24', dev: 'v1' });
    assert.deepEqual(show('192.168.77.0/24'), ['192.168.77.0/24 dev v0 proto kernel']);
    const e = fails('a', { op: 'replacePeerRoute', subnet: '192.168.77.0/24', dev: 'v1' });
    assert.match(e.message, /^adding route 192\.168\.77\.0\/24 via 192\.168\.77\.0 dev v1 onlink: 192\.168\.77\.0\/24 already has a route vxtap did not install \(192\.168\.77\.0\/24 dev v0 proto kernel\)/);

    // The default route.
    conflictOn({ op: 'replaceRoute', route: { dst: '0.0.0.0/0', gateway: '10.44.20.0', dev: 'v1', onlink: true } });
    assert.deepEqual(show('0.0.0.0/0'), ['default via 192.168.77.254 dev v0 proto boot']);

    // Another daemon's route, at the same metric and at another one.
    ip('route', 'add', '10.44.21.0/24', 'via', '192.168.77.21', 'dev', 'v0', 'proto', 'static');
    ip('route', 'add', '10.44.22.0/24', 'via', '192.168.77.22', 'dev', 'v0', 'proto', 'bird', 'metric', '100');
    conflictOn({ op: 'replacePeerRoute', subnet: '10.44.21.0/24', dev: 'v1' });
    conflictOn({ op: 'replacePeerRoute', subnet: '10.44.22.0/24', dev: 'v1' });
    assert.deepEqual(show('10.44.21.0/24'), ['10.44.21.0/24 via 192.168.77.21 dev v0 proto static']);
    assert.deepEqual(show('10.44.22.0/24'), ['10.44.22.0/24 via 192.168.77.22 dev v0 proto bird']);
    // A blackhole (the fib lookup refuses it with EINVAL; the table dump finds it).
    ip('route', 'add', 'blackhole', '10.44.23.0/24');
    conflictOn({ op: 'replacePeerRoute', subnet: '10.44.23.0/24', dev: 'v1' });

    // A route in another table, picked by a rule first, is not the main table's: ours goes in.
    ip('route', 'add', '10.44.24.0/24', 'dev', 'v0', 'table', '100');
    ip('rule', 'add', 'to', '10.44.24.0/24', 'lookup', '100', 'pref', '100');
    ok('a', { op: 'replacePeerRoute', subnet: '10.44.24.0/24', dev: 'v1' });
    assert.deepEqual(show('10.44.24.0/24'), [`10.44.24.0/24 via 10.44.24.0 dev v1 proto ${RTPROT_VXTAP}`]);

    // Ours (our protocol through our device) is replaced, and only once there. A
    // protocol-118 route through another device is another vxtap's (a second
    // daemon on this host, on its own TAP): a conflict, left as it is.
    ok('a', { op: 'replacePeerRoute', subnet: '10.44.25.0/24', dev: 'v1' });
    ok('a', { op: 'replacePeerRoute', subnet: '10.44.25.0/24', dev: 'v1' });
    assert.deepEqual(show('10.44.25.0/24'), [`10.44.25.0/24 via 10.44.25.0 dev v1 proto ${RTPROT_VXTAP}`]);
    conflictOn({ op: 'replacePeerRoute', subnet: '10.44.25.0/24', dev: 'v0' });
    assert.deepEqual(show('10.44.25.0/24'), [`10.44.25.0/24 via 10.44.25.0 dev v1 proto ${RTPROT_VXTAP}`]);

    // Deleting removes only ours: a foreign route to the same destination (here the
    // same gateway and device, another metric) stays, also when asked again.
    ip('route', 'add', '10.44.25.0/24', 'via', '10.44.25.0', 'dev', 'v1', 'onlink', 'proto', 'static', 'metric', '100');
    const route = { dst: '10.44.25.0/24', gateway: '10.44.25.0', dev: 'v1', onlink: true };
    assert.deepEqual(kernel('a', [{ op: 'deleteRoute', route }, { op: 'deleteRoute', route }]), [{ ok: null }, { ok: null }]);
    assert.deepEqual(show('10.44.25.0/24'), ['10.44.25.0/24 via 10.44.25.0 dev v1 proto static']);
    // And a foreign route with our destination, device and metric is not deleted as ours either.
    ok('a', { op: 'deleteRoute', route: { dst: '10.44.21.0/24', gateway: '192.168.77.21', dev: 'v0' } });
    assert.deepEqual(show('10.44.21.0/24'), ['10.44.21.0/24 via 192.168.77.21 dev v0 proto static']);

    // flushOwnRoutes (what setupVtep does first): ours through the device go, the others stay.
    ok('a', { op: 'replacePeerRoute', subnet: '10.44.26.0/24', dev: 'v1' });
    assert.equal(ok('a', { op: 'flushOwnRoutes', dev: 'v1' }), 2); // 10.44.24.0/24 and 10.44.26.0/24
    assert.deepEqual(ipj<IpRoute[]>('a', ['route', 'show', 'proto', String(RTPROT_VXTAP)]), []);
    assert.deepEqual(show('10.44.25.0/24'), ['10.44.25.0/24 via 10.44.25.0 dev v1 proto static']);

    for (const dst of ['10.44.21.0/24', '10.44.22.0/24', '10.44.23.0/24', '10.44.25.0/24']) ip('route', 'del', dst);
    ip('rule', 'del', 'pref', '100');
    ip('route', 'flush', 'table', '100');
  });

  test('defaultRouteInterface(): the default route\'s device, or null without one', (t) => {
    if (!needNamespaces(t)) return;
    assert.equal(ok('a', { op: 'defaultRouteInterface' }), 'v0');
    assert.equal(ok('b', { op: 'defaultRouteInterface' }), null);
  });

  test('underlay() and setupVtep(): what `vxtap run` does to the TAP', (t) => {
    if (!needNamespaces(t)) return;
    assert.deepEqual(ok('a', { op: 'underlay' }), { name: 'v0', ip: '192.168.77.1', mtu: 1500 });
    const e = fails('b', { op: 'underlay' });
    assert.equal(e.name, 'ConfigError');
    assert.match(e.message, /no IPv4 default route/);
    assert.match(fails('b', { op: 'underlay', name: 'w0' }).message, /^underlay interface w0 has no IPv4 address/);
    assert.match(fails('b', { op: 'underlay', name: 'nope0' }).message, /^underlay interface nope0 does not exist/);

    ok('a', { op: 'setLink', name: 'v1', change: { up: false } });
    ok('a', { op: 'setupVtep', cfg: { tap: 'v1', subnet: '10.44.5.0/24', mac: '02:76:c0:a8:4d:05', underlayMtu: 1500 } });
    const [l] = ipj<IpLink[]>('a', ['link', 'show', 'v1']);
    assert.equal(l!.mtu, 1450);
    assert.equal(l!.address, '02:76:c0:a8:4d:05');
    assert.ok(l!.flags.includes('UP'));
    const [a] = ipj<IpAddr[]>('a', ['-4', 'addr', 'show', 'v1']);
    assert.ok(a!.addr_info.some((x) => x.local === '10.44.5.0' && x.prefixlen === 32));
    // Removing the address again is fine, twice.
    assert.deepEqual(kernel('a', [
      { op: 'deleteAddress', name: 'v1', cidr: '10.44.5.0/32' },
      { op: 'deleteAddress', name: 'v1', cidr: '10.44.5.0/32' },
      { op: 'ipv4Addresses', name: 'v1' },
    ]), [{ ok: null }, { ok: null }, { ok: ['10.44.1.0/32'] }]);
  });

  test('setupL2Port(): the L2-mode TAP is a bridge port with MTU - 50 and no address; a missing or non-bridge master is a ConfigError', (t) => {
    if (!needNamespaces(t)) return;
    lab!.exec('b', ['ip', 'link', 'add', 'br9', 'type', 'bridge']);
    ok('b', { op: 'setupL2Port', cfg: { tap: 'w1', mac: '02:76:00:00:00:09', underlayMtu: 1500, bridge: 'br9' } });
    const [l] = ipj<(IpLink & { master?: string })[]>('b', ['link', 'show', 'w1']);
    assert.equal(l!.master, 'br9');
    assert.equal(l!.mtu, 1450);
    assert.equal(l!.address, '02:76:00:00:00:09');
    assert.ok(l!.flags.includes('UP'));
    const [a] = ipj<IpAddr[]>('b', ['-4', 'addr', 'show', 'w1']);
    assert.deepEqual(a?.addr_info ?? [], []);
    const link = ok('b', { op: 'link', name: 'w1' }) as { master: number };
    const [br] = ipj<IpLink[]>('b', ['link', 'show', 'br9']);
    assert.equal(link.master, br!.ifindex);
    const missing = fails('b', { op: 'setupL2Port', cfg: { tap: 'w1', mac: '02:76:00:00:00:09', underlayMtu: 1500, bridge: 'nobr0' } });
    assert.equal(missing.name, 'ConfigError');
    assert.match(missing.message, /^--bridge nobr0: no such device/);
    const notBridge = fails('b', { op: 'setupL2Port', cfg: { tap: 'w1', mac: '02:76:00:00:00:09', underlayMtu: 1500, bridge: 'lo' } });
    assert.equal(notBridge.name, 'ConfigError');
    assert.match(notBridge.message, /^--bridge lo: lo cannot take ports/);
  });

  test('concurrent calls on one socket (dumps included) do not mix their replies', (t) => {
    if (!needNamespaces(t)) return;
    const r = ok('a', { op: 'parallel', ops: [
      { op: 'routes' }, { op: 'defaultRouteInterface' }, { op: 'ipv4Addresses', name: 'v0' },
      { op: 'routes', dev: 'v0' }, { op: 'link', name: 'v0' }, { op: 'defaultRouteInterface' },
    ] }) as unknown[];
    assert.equal(r[1], 'v0');
    assert.deepEqual(r[2], ['192.168.77.1/24']);
    assert.deepEqual(r[3], [
      { dst: '0.0.0.0/0', gateway: '192.168.77.254', dev: 'v0', onlink: false, protocol: 3 }, // boot: `ip route add`
      { dst: '192.168.77.0/24', dev: 'v0', onlink: false, protocol: 2 }, // kernel: connected
    ]);
    assert.equal((r[4] as { name: string }).name, 'v0');
    assert.equal(r[5], 'v0');
  });

  test('errors are NetlinkErrors with the errno name and what was being done', (t) => {
    if (!needNamespaces(t)) return;
    const noDev = fails('a', { op: 'replacePeerRoute', subnet: '10.44.3.0/24', dev: 'nope0' });
    assert.equal(noDev.name, 'NetlinkError');
    assert.equal(noDev.code, 'VXTAP_ERR_NETLINK');
    assert.equal(noDev.errno, 'ENODEV');
    assert.match(noDev.message, /^adding route 10\.44\.3\.0\/24 via 10\.44\.3\.0 dev nope0 onlink: ENODEV/);

    // Without onlink the gateway is not on any local prefix: the kernel says ENETUNREACH.
    const offLink = fails('a', { op: 'replaceRoute', route: { dst: '10.44.3.0/24', gateway: '10.44.3.0', dev: 'v1' } });
    assert.equal(offLink.errno, 'ENETUNREACH');
    assert.match(offLink.message, /^adding route 10\.44\.3\.0\/24 via 10\.44\.3\.0 dev v1: ENETUNREACH/);

    const setMissing = fails('a', { op: 'setLink', name: 'nope0', change: { up: true } });
    assert.equal(setMissing.errno, 'ENODEV');
    assert.match(setMissing.message, /^setting link nope0 up: ENODEV/);

    // A multicast MAC: the kernel refuses it (EADDRNOTAVAIL).
    const badMac = fails('a', { op: 'setLink', name: 'v1', change: { mac: '01:00:5e:00:00:01' } });
    assert.equal(badMac.errno, 'EADDRNOTAVAIL');
    assert.match(badMac.message, /^setting link v1 address 01:00:5e:00:00:01: EADDRNOTAVAIL/);

    // Arguments that cannot be used are ConfigErrors, before any request.
    assert.equal(fails('a', { op: 'setLink', name: 'v1', change: { mac: 'zz' } }).name, 'ConfigError');
    assert.equal(fails('a', { op: 'replacePeerRoute', subnet: '10.44.3.1/24', dev: 'v1' }).name, 'ConfigError');
  });
});
