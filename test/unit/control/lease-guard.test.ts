/**
 * The lease rules and the guard (control/lease-rules.ts, lease-guard.ts),
 * with a fake peer source: each of issue #9's measured bad leases is refused
 * before it reaches the installer, collisions go to the older lease, and a
 * refused lease comes in when its obstacle goes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuardedPeerSource, PrefixSet } from '../../../src/control/lease-guard';
import { checkPublicIp, checkShape, publicIpFault, selfOf, type HostView, type NetworkShape } from '../../../src/control/lease-rules';
import { macFromIp, type Peer, type PeerEvent, type PeerSource } from '../../../src/control/peers';
import { parseCidr, parseIpv4 } from '../../../src/wire/addr';

const SHAPE: NetworkShape = { network: parseCidr('10.44.0.0/16'), subnetLen: 24, subnetMin: parseIpv4('10.44.1.0'), subnetMax: parseIpv4('10.44.255.0') };
const SELF = selfOf('10.44.1.0/24', '192.168.90.1', macFromIp('192.168.90.1'));
/** The host: eth0 on the underlay, a default route, a route of another daemon's. */
const HOST: HostView = {
  addresses: [{ addr: parseIpv4('192.168.90.1'), prefix: parseCidr('192.168.90.0/24'), dev: 'eth0' }],
  routes: [
    { dst: parseCidr('0.0.0.0/0'), dev: 'eth0' },
    { dst: parseCidr('192.168.90.0/24'), dev: 'eth0' },
    { dst: parseCidr('10.44.77.0/24'), dev: 'wg0' },
  ],
};

const peer = (subnet: string, n: number, extra: Partial<Peer> = {}): Peer =>
  ({ subnet, publicIp: `192.168.90.${n}`, vtepMac: macFromIp(`192.168.90.${n}`), ...extra });

/** A peer source whose snapshot and events the test hands in. */
class FakeSource implements PeerSource {
  private cb: ((b: PeerEvent[]) => void) | null = null;
  constructor(private readonly first: Peer[]) {}
  snapshot(): Promise<Peer[]> { return Promise.resolve(this.first); }
  watch(cb: (b: PeerEvent[]) => void): void { this.cb = cb; }
  close(): Promise<void> { return Promise.resolve(); }
  emit(batch: PeerEvent[]): void { this.cb!(batch); }
}

async function guarded(first: Peer[], shape: NetworkShape | null = SHAPE, host: HostView = HOST) {
  const src = new FakeSource(first);
  const refused: string[] = [];
  const accepted: string[] = [];
  const g = new GuardedPeerSource(src, {
    self: SELF, shape, hostView: () => Promise.resolve(host), recheckMs: 60_000,
    onRefused: (p, r) => refused.push(`${p.subnet} ${r.reason}`),
    onAccepted: (p) => accepted.push(p.subnet),
  });
  const snap = await g.snapshot();
  const batches: PeerEvent[][] = [];
  g.watch((b) => batches.push(b));
  /** Hands the guard a batch and waits until it has decided. */
  const send = async (batch: PeerEvent[]): Promise<PeerEvent[]> => {
    const before = batches.length;
    src.emit(batch);
    await g.settled();
    return batches.slice(before).flat();
  };
  return { g, snap, refused, accepted, send };
}

const names = (evs: PeerEvent[]): string[] => evs.map((e) => `${e.type} ${e.peer.subnet}`);

test('rules: the lease\'s shape against the network (inside, SubnetLen, SubnetMin..Max)', () => {
  assert.equal(checkShape(parseCidr('10.44.2.0/24'), SHAPE), null);
  assert.equal(checkShape(parseCidr('10.99.0.0/24'), SHAPE)?.reason, 'network', 'outside the network');
  assert.equal(checkShape(parseCidr('10.44.0.0/16'), SHAPE)?.reason, 'network', 'a /16');
  assert.equal(checkShape(parseCidr('10.44.5.5/32'), SHAPE)?.reason, 'network', 'a /32');
  assert.equal(checkShape(parseCidr('128.0.0.0/1'), SHAPE)?.reason, 'network', 'half of IPv4');
  assert.equal(checkShape(parseCidr('10.44.0.0/24'), SHAPE)?.reason, 'network', 'below SubnetMin');
  assert.match(checkShape(parseCidr('10.44.1.128/25'), SHAPE)!.detail, /\/25.*\/24/);
  // A static file names no network: only absurd widths are refused there.
  assert.equal(checkShape(parseCidr('10.44.1.128/25'), null), null);
  assert.equal(checkShape(parseCidr('128.0.0.0/1'), null)?.reason, 'network');
});

test('rules: PublicIP must be a unicast address that is not this host\'s nor inside the overlay', () => {
  for (const ip of ['0.0.0.0', '127.0.0.1', '169.254.1.1', '224.0.0.1', '239.1.2.3', '240.0.0.1', '255.255.255.255', '0.1.2.3']) {
    assert.notEqual(publicIpFault(parseIpv4(ip)), null, ip);
  }
  assert.equal(publicIpFault(parseIpv4('192.168.90.2')), null);
  assert.equal(checkPublicIp('192.168.90.1', SELF, SHAPE, HOST)?.reason, 'public-ip', 'this host\'s own');
  assert.equal(checkPublicIp('10.44.9.9', SELF, SHAPE, HOST)?.reason, 'public-ip', 'inside the overlay');
  assert.equal(checkPublicIp('10.44.1.9', SELF, null, HOST)?.reason, 'public-ip', 'inside this host\'s subnet');
  assert.equal(checkPublicIp('nonsense', SELF, SHAPE, HOST)?.reason, 'public-ip');
  assert.equal(checkPublicIp('192.168.90.2', SELF, SHAPE, HOST), null);
});

test('guard: each of the measured bad leases is refused, logged once, counted; good ones pass', async () => {
  const good = peer('10.44.2.0/24', 2);
  const bad = [
    peer('192.168.90.0/24', 10),                                   // the underlay's own /24 (static: no shape)
    peer('10.44.1.128/25', 11),                                    // upper half of this host's subnet
    peer('10.44.2.128/25', 12),                                    // upper half of a peer's
    peer('128.0.0.0/1', 13),                                       // half of IPv4
    peer('10.99.0.0/24', 14),                                      // outside the network
    peer('10.44.0.0/16', 15),                                      // a /16
    peer('10.44.5.5/32', 16),                                      // a /32
    peer('10.44.6.0/24', 0, { publicIp: '127.0.0.1' }),            // loopback VTEP
    peer('10.44.7.0/24', 17, { vtepMac: good.vtepMac }),           // another host's VtepMAC
    peer('10.44.8.0/24', 18, { vtepMac: SELF.vtepMac }),           // this host's VtepMAC
    peer('10.44.9.0/24', 19, { vtepMac: '01:00:5e:00:00:01' }),    // a multicast MAC
    peer('10.44.10.0/24', 2, { vtepMac: macFromIp('192.168.90.20') }), // another host's PublicIP
    peer('10.44.77.0/24', 21),                                     // another daemon's route (wg0)
  ];
  const { g, snap, refused } = await guarded([good, ...bad]);
  assert.deepEqual(snap.map((p) => p.subnet), ['10.44.2.0/24']);
  assert.equal(refused.length, bad.length, refused.join('\n'));
  assert.deepEqual(refused.map((r) => r.split(' ')[1]), [
    'network', 'network', 'network', 'network', 'network', 'network', 'network',
    'public-ip', 'vtep-mac', 'vtep-mac', 'vtep-mac', 'public-ip', 'underlay',
  ]);
  assert.equal(g.refused.length, bad.length);
  assert.equal(Object.values(g.refusals).reduce((a, b) => a + b, 0), bad.length);
});

test('guard: without a network (static file), the underlay and this host\'s subnet still protect themselves', async () => {
  const { snap, refused } = await guarded([peer('192.168.90.0/24', 10), peer('10.44.1.128/25', 11), peer('128.0.0.0/1', 13), peer('10.44.2.0/24', 2)], null);
  assert.deepEqual(snap.map((p) => p.subnet), ['10.44.2.0/24']);
  assert.deepEqual(refused, ['192.168.90.0/24 underlay', '10.44.1.128/25 own', '128.0.0.0/1 network']);
});

test('guard: the older lease wins a collision; the newcomer comes in when the older one goes', async () => {
  const old = peer('10.44.2.0/24', 2, { order: 5 });
  const { snap, refused, accepted, send } = await guarded([old]);
  assert.equal(snap.length, 1);
  // A newcomer with the same VtepMAC: refused, nothing emitted (the old entry stays).
  const thief = peer('10.44.3.0/24', 3, { vtepMac: old.vtepMac, order: 9 });
  assert.deepEqual(await send([{ type: 'added', peer: thief }]), []);
  assert.deepEqual(refused, ['10.44.3.0/24 vtep-mac']);
  // Seen again (an etcd resync): not logged or counted twice.
  assert.deepEqual(await send([{ type: 'added', peer: thief }]), []);
  assert.equal(refused.length, 1);
  // The old one goes: it is removed, and the newcomer is examined again and added.
  assert.deepEqual(names(await send([{ type: 'removed', peer: old }])), ['removed 10.44.2.0/24', 'added 10.44.3.0/24']);
  assert.deepEqual(accepted, ['10.44.3.0/24']);
});

test('guard: a bad lease deleted leaves nothing to repair; a good lease rewritten in place keeps its age', async () => {
  const a = peer('10.44.2.0/24', 2, { order: 1 });
  const { send } = await guarded([a]);
  const bad = peer('10.44.2.128/25', 9, { order: 2 });
  assert.deepEqual(await send([{ type: 'added', peer: bad }]), []);
  assert.deepEqual(await send([{ type: 'removed', peer: bad }]), []);
  // a's host moves to a new VTEP MAC: one removal and one addition, as before the guard.
  const moved = { ...a, vtepMac: '02:00:00:00:00:aa' };
  assert.deepEqual(names(await send([{ type: 'removed', peer: a }, { type: 'added', peer: moved }])), ['removed 10.44.2.0/24', 'added 10.44.2.0/24']);
});

test('guard: this host moving to another subnet re-examines every lease', async () => {
  const p = peer('10.44.5.0/24', 5);
  const src = new FakeSource([p]);
  const g = new GuardedPeerSource(src, { self: SELF, shape: SHAPE });
  assert.equal((await g.snapshot()).length, 1);
  const out: PeerEvent[] = [];
  g.watch((b) => out.push(...b));
  await g.setSelf(selfOf('10.44.5.0/24', '192.168.90.1', SELF.vtepMac));
  assert.deepEqual(names(out), ['removed 10.44.5.0/24']);
  assert.equal(g.refused[0]?.reason, 'own');
});

test('guard: 5,000 leases are decided in one pass', async () => {
  const many: Peer[] = [];
  for (let i = 0; i < 5000; i++) {
    const ip = `172.${16 + (i >> 8)}.${i & 255}.1`;
    many.push({ subnet: `10.${100 + (i >> 8)}.${i & 255}.0/24`, publicIp: ip, vtepMac: macFromIp(ip), order: i });
  }
  const shape: NetworkShape = { network: parseCidr('10.0.0.0/8'), subnetLen: 24, subnetMin: parseIpv4('10.0.1.0'), subnetMax: parseIpv4('10.255.255.0') };
  const { snap } = await guarded(many, shape);
  assert.equal(snap.length, 5000);
});

test('guard: a burst of single-lease watch batches is decided once, not once per batch', async () => {
  const src = new FakeSource([]);
  const g = new GuardedPeerSource(src, { self: SELF, shape: { ...SHAPE, network: parseCidr('10.0.0.0/8'), subnetMin: parseIpv4('10.0.1.0'), subnetMax: parseIpv4('10.255.255.0') } });
  await g.snapshot();
  const batches: PeerEvent[][] = [];
  g.watch((b) => batches.push(b));
  for (let i = 0; i < 5000; i++) {
    const ip = `172.${16 + (i >> 8)}.${i & 255}.1`;
    src.emit([{ type: 'added', peer: { subnet: `10.${100 + (i >> 8)}.${i & 255}.0/24`, publicIp: ip, vtepMac: macFromIp(ip), order: i } }]);
  }
  await g.setSelf(SELF);
  assert.equal(batches.flat().length, 5000, 'every lease came through');
  assert.ok(batches.length <= 2, `${batches.length} batches: the burst must be decided together`);
});

test('guard: a lease that becomes acceptable between snapshot() and watch() is emitted once watched (issue #9 review)', async () => {
  let view: HostView = { addresses: HOST.addresses, routes: [...HOST.routes, { dst: parseCidr('10.44.5.0/24'), dev: 'wg0' }] };
  const p = peer('10.44.5.0/24', 5);
  const src = new FakeSource([p]);
  const g = new GuardedPeerSource(src, { self: SELF, shape: SHAPE, hostView: () => Promise.resolve(view), recheckMs: 20 });
  assert.deepEqual(await g.snapshot(), [], 'refused: a foreign route covers it');
  view = HOST; // the route goes while the snapshot is being installed; the re-check runs before watch()
  await new Promise((r) => setTimeout(r, 1200)); // past the host view's 1 s cache and a few re-checks
  const out: PeerEvent[] = [];
  g.watch((b) => out.push(...b));
  await g.setSelf(SELF);
  assert.deepEqual(names(out), ['added 10.44.5.0/24']);
  await g.close();
});

test('guard: decided change by change (the incremental path included) it ends where one decision over the final leases ends', async () => {
  // A seeded walk over leases that collide: overlapping prefixes, shared MACs and PublicIPs.
  let seed = 7;
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const subnets = ['10.44.2.0/24', '10.44.2.0/25', '10.44.2.128/25', '10.44.3.0/24', '10.44.4.0/23', '10.44.5.0/24', '10.44.6.0/24', '10.44.7.0/24'];
  for (let round = 0; round < 100; round++) {
    const src = new FakeSource([]);
    const g = new GuardedPeerSource(src, { self: SELF, shape: null });
    await g.snapshot();
    const have = new Map<string, Peer>();
    g.watch((batch) => { for (const ev of batch) { if (ev.type === 'added') have.set(ev.peer.subnet, ev.peer); else have.delete(ev.peer.subnet); } });
    const live = new Map<string, Peer>();
    let order = 0;
    for (let step = 0; step < 60; step++) {
      const subnet = subnets[rand(subnets.length)]!;
      const batch: PeerEvent[] = [];
      if (live.has(subnet) && rand(2) === 0) {
        batch.push({ type: 'removed', peer: live.get(subnet)! });
        live.delete(subnet);
      } else if (!live.has(subnet)) {
        const n = 10 + rand(round % 2 === 0 ? 4 : 40); // even rounds: four hosts, PublicIPs and MACs collide
        const p: Peer = { ...peer(subnet, n), order: ++order };
        batch.push({ type: 'added', peer: p });
        live.set(subnet, p);
      }
      if (batch.length > 0) src.emit(batch);
      if (rand(3) === 0) await g.settled(); // let some runs decide alone, others in bursts
    }
    await g.settled();
    const fresh = new GuardedPeerSource(new FakeSource([...live.values()]), { self: SELF, shape: null });
    const want = (await fresh.snapshot()).map((p) => p.subnet).sort();
    assert.deepEqual([...have.keys()].sort(), want, `round ${round}`);
  }
});

test('PrefixSet: overlap in either direction, and containment of an address', () => {
  const s = new PrefixSet();
  s.add(parseCidr('10.44.2.0/24'));
  assert.deepEqual(s.overlapping(parseCidr('10.44.2.128/25')), parseCidr('10.44.2.0/24'));
  assert.deepEqual(s.overlapping(parseCidr('10.44.0.0/16')), parseCidr('10.44.2.0/24'));
  assert.equal(s.overlapping(parseCidr('10.44.3.0/24')), null);
  assert.deepEqual(s.containing(parseIpv4('10.44.2.9')), parseCidr('10.44.2.0/24'));
  assert.equal(s.containing(parseIpv4('10.44.3.9')), null);
  s.add(parseCidr('10.44.2.128/25'));
  s.remove(parseCidr('10.44.2.0/24'));
  assert.deepEqual(s.overlapping(parseCidr('10.44.0.0/16')), parseCidr('10.44.2.128/25'), 'what is left below still counts');
  assert.equal(s.overlapping(parseCidr('10.44.2.0/25')), null);
  s.remove(parseCidr('10.44.2.128/25'));
  assert.equal(s.overlapping(parseCidr('10.44.0.0/16')), null, 'nothing left');
});
