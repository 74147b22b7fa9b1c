/**
 * control/underlay-route.ts with a double for rtnetlink: what one lookup
 * gathers (route, link, neighbour, default TTL), that asking never waits,
 * when a lookup is made again, the MACs a capture takes, and that the
 * socket is closed when no lookup is pending.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RtnlError, type RtnlLink, type RtnlNeighbour, type RtnlRoute } from '../../../src/control/rtnl';
import { outerMacLookup, UnderlayRoutes, type UnderlayRtnl } from '../../../src/control/underlay-route';
import { parseIpv4 } from '../../../src/wire/addr';

const VTEP = parseIpv4('192.168.93.12');

class FakeRtnl implements UnderlayRtnl {
  calls: string[] = [];
  closed = 0;
  route: RtnlRoute | Error = { dst: '192.168.93.12/32', oif: 2, onlink: false, protocol: 0, scope: 0, type: 1, priority: 0, table: 254, prefsrc: '192.168.93.11', flags: 0 };
  neigh: RtnlNeighbour | null = { index: 2, address: '192.168.93.12', mac: '0a:00:00:00:00:0c', state: 2, stateName: 'REACHABLE' };
  link: RtnlLink = { index: 2, name: 'eth0', mtu: 1500, mac: '0a:00:00:00:00:0b', up: true, flags: 1, master: 0 };
  async routeGet(addr: string): Promise<RtnlRoute> {
    this.calls.push(`route ${addr}`);
    if (this.route instanceof Error) throw this.route;
    return this.route;
  }
  async neighbour(index: number, addr: string): Promise<RtnlNeighbour | null> {
    this.calls.push(`neigh ${index} ${addr}`);
    return this.neigh;
  }
  async linkByIndex(index: number): Promise<RtnlLink | null> {
    this.calls.push(`link ${index}`);
    return this.link;
  }
  async close(): Promise<void> {
    this.closed++;
  }
}

function make(fake: FakeRtnl, clock: { t: number }): UnderlayRoutes {
  return new UnderlayRoutes({ open: () => fake, now: () => clock.t, defaultTtl: async () => 64, maxAgeMs: 10_000, unsettledMs: 500 });
}

test('the first ask answers null at once and starts the lookup; the next one has the facts', async () => {
  const fake = new FakeRtnl();
  const clock = { t: 1000 };
  const u = make(fake, clock);
  assert.equal(u.facts(VTEP), null, 'never waits');
  await u.refresh(VTEP); // joins the running lookup
  assert.deepEqual(fake.calls, ['route 192.168.93.12', 'link 2', 'neigh 2 192.168.93.12'], 'one lookup, the neighbour of the next hop on the output interface');
  assert.deepEqual(u.facts(VTEP), {
    vtep: '192.168.93.12', at: 1000, error: null, dev: 'eth0', oif: 2, devMac: '0a:00:00:00:00:0b', mtu: 1500, src: '192.168.93.11',
    gateway: null, nextHop: '192.168.93.12', neighMac: '0a:00:00:00:00:0c', neighState: 'REACHABLE', hoplimit: null, routeMtu: null, defaultTtl: 64,
  });
  assert.equal(fake.closed, 1, 'the socket is closed once no lookup is pending');
  await u.close();
});

test('a gateway: the neighbour asked is the gateway, with the route\'s metrics', async () => {
  const fake = new FakeRtnl();
  fake.route = { ...(fake.route as RtnlRoute), gateway: '192.168.93.1', hoplimit: 9, mtu: 1400 };
  const u = make(fake, { t: 0 });
  const f = await u.refresh(VTEP);
  assert.ok(fake.calls.includes('neigh 2 192.168.93.1'));
  assert.deepEqual([f.gateway, f.nextHop, f.hoplimit, f.routeMtu], ['192.168.93.1', '192.168.93.1', 9, 1400]);
});

test('settled facts are kept until maxAgeMs; unsettled ones are asked again after unsettledMs', async () => {
  const fake = new FakeRtnl();
  const clock = { t: 0 };
  const u = make(fake, clock);
  await u.refresh(VTEP);
  const after = fake.calls.length;
  clock.t = 9_000;
  u.facts(VTEP);
  assert.equal(fake.calls.length, after, 'REACHABLE, 9 s old: no new lookup');
  clock.t = 10_000;
  u.facts(VTEP);
  await u.refresh(VTEP);
  assert.equal(fake.calls.length, after + 3, '10 s old: looked up again');

  fake.neigh = null;
  clock.t = 30_000;
  await u.refresh(VTEP);
  assert.equal(u.facts(VTEP)!.neighState, null, 'no entry');
  const n = fake.calls.length;
  clock.t = 30_400;
  u.facts(VTEP);
  assert.equal(fake.calls.length, n, 'not yet: 400 ms');
  clock.t = 30_500;
  fake.neigh = { index: 2, address: '192.168.93.12', mac: '0a:00:00:00:00:0c', state: 2, stateName: 'REACHABLE' };
  u.facts(VTEP);
  await u.refresh(VTEP);
  assert.equal(u.facts(VTEP)!.neighState, 'REACHABLE', 'the kernel resolved it since');
});

test('a route the kernel refuses is a fact with its error, not an exception', async () => {
  const fake = new FakeRtnl();
  fake.route = new RtnlError('RTM_GETROUTE 192.168.93.12', 'ENETUNREACH', 101);
  const u = make(fake, { t: 0 });
  const f = await u.refresh(VTEP);
  assert.equal(f.error, 'RTM_GETROUTE 192.168.93.12: ENETUNREACH');
  assert.equal(f.dev, null);
  assert.deepEqual(fake.calls, ['route 192.168.93.12'], 'no neighbour without a route');
});

test('the MACs a capture takes: null until both are known', async () => {
  const fake = new FakeRtnl();
  const clock = { t: 0 };
  const u = make(fake, clock);
  const macs = outerMacLookup(u);
  assert.equal(macs(VTEP), null);
  await u.refresh(VTEP);
  const m = macs(VTEP)!;
  assert.deepEqual([Buffer.from(m.src).toString('hex'), Buffer.from(m.dst).toString('hex')], ['0a000000000b', '0a000000000c']);
  fake.neigh = { index: 2, address: '192.168.93.12', mac: null, state: 1, stateName: 'INCOMPLETE' };
  clock.t = 20_000;
  await u.refresh(VTEP);
  assert.equal(macs(VTEP), null, 'INCOMPLETE: no MAC yet');
});

test('after close: no more lookups', async () => {
  const fake = new FakeRtnl();
  const u = make(fake, { t: 0 });
  await u.close();
  assert.equal(u.facts(VTEP), null);
  assert.deepEqual(fake.calls, []);
});

test('spoofed senders cannot grow it without bound: past maxEntries a new address is not looked up, known ones still are', async () => {
  const fake = new FakeRtnl();
  const u = new UnderlayRoutes({ open: () => fake, now: () => 1000, defaultTtl: async () => 64, maxEntries: 3 });
  for (let i = 0; i < 3; i++) await u.refresh(VTEP + i);
  const before = fake.calls.length;
  for (let i = 3; i < 1000; i++) assert.equal(u.facts(VTEP + i), null);
  assert.equal(fake.calls.length, before, 'no lookup for the 997 new addresses');
  assert.equal(u.refused, 997);
  assert.notEqual(u.facts(VTEP + 1), null, 'an address already held is still answered');
  await u.close();
});
