/**
 * The neighbour codec and route metrics (issue #12) against bytes the kernel
 * sent (6.18, x86-64: netlink integers little-endian).
 *
 * How the fixtures were made (2026-11-30, as root):
 *   ip netns add vxO-cap; ip -n vxO-cap link set lo up
 *   ip -n vxO-cap link add v0 type veth peer name v1      # v0 is ifindex 3
 *   ip -n vxO-cap link set v0 address 02:00:00:00:00:a0; ... v1 address 02:00:00:00:00:a1; both up
 *   ip -n vxO-cap addr add 192.168.77.1/24 dev v0
 *   ip -n vxO-cap neigh add 192.168.77.2 lladdr 02:00:00:00:00:a1 dev v0 nud reachable
 *   ip -n vxO-cap route add 10.50.0.0/16 via 192.168.77.2 dev v0 hoplimit 7 mtu 1400
 * then, inside the namespace, the addon's nlTransactAsync with
 * getNeighRequest(21, 3, 192.168.77.2), getNeighRequest(22, 3, 192.168.77.9)
 * and getRouteRequest(23, 10.50.1.2, 0), printed as hex (`ip neigh` said
 * REACHABLE, `ip route get 10.50.1.2` said "via 192.168.77.2 dev v0 src
 * 192.168.77.1 cache mtu 1400 hoplimit 7"). The socket's port id was 0x7e92.
 */
import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import { describe, it } from 'node:test';
import { WireError } from '../../../src/errors';
import * as nl from '../../../src/wire/netlink';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const le = endianness() === 'LE';

/** RTM_GETNEIGH 192.168.77.2 on ifindex 3, seq 21, as sent. */
const NEIGH_REQ = hex(`
  24000000 1e00 0500 15000000 00000000
    02 00 0000 03000000 0000 00 00
    0800 0100 c0a84d02
`);

/** Its answer: one RTM_NEWNEIGH (REACHABLE, lladdr 02:00:00:00:00:a1, probes 0, cacheinfo) and the ack. */
const NEIGH_REPLY = hex(`
  4c000000 1c00 0000 15000000 927e0000
    02 00 0000 03000000 0200 00 01
    0800 0100 c0a84d02
    0a00 0200 020000000 0a1 0000
    0800 0400 00000000
    1400 0300 3f000000 3f000000 3f000000 02000000
  24000000 0200 0001 15000000 927e0000
    00000000
    24000000 1e00 0500 15000000 00000000
`);

/** RTM_GETNEIGH for 192.168.77.9, which has no entry: NLMSG_ERROR -ENOENT with the kernel's extended ack text. */
const NO_NEIGH_REPLY = hex(`
  44000000 0200 0003 16000000 927e0000
    feffffff
    24000000 1e00 0500 16000000 00000000
    1e00 0100 4e65696768626f757220656e747279206e6f7420666f756e6400 0000
`);

/** RTM_GETROUTE 10.50.1.2: the cached /32 via 192.168.77.2 dev 3 src 192.168.77.1, RTA_METRICS {MTU 1400, HOPLIMIT 7}, then the ack. */
const ROUTE_REPLY = hex(`
  84000000 1800 0000 17000000 927e0000
    02 20 00 00 fe 00 00 01 00020000
    0800 0f00 fe000000
    0800 0100 0a320102
    0800 0400 03000000
    0800 0700 c0a84d01
    0800 0500 c0a84d02
    1400 0800 0800 0200 78050000 0800 0a00 07000000
    0800 1900 00000000
    2400 0c00 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000
  24000000 0200 0001 17000000 927e0000
    00000000
    24000000 1a00 0500 17000000 00000000
`);

describe('RTM_GETNEIGH', { skip: le ? false : 'the fixtures are little-endian' }, () => {
  it('the request, field by field', () => {
    assert.deepEqual(nl.getNeighRequest(21, 3, Buffer.from([192, 168, 77, 2])), NEIGH_REQ);
  });

  it('refuses an address that is not 4 bytes', () => {
    assert.throws(() => nl.getNeighRequest(1, 3, Buffer.alloc(16)), WireError);
  });

  it('parses the kernel\'s entry: ifindex, NUD state, the address and the MAC', () => {
    const msgs = nl.parseMessages(NEIGH_REPLY);
    assert.deepEqual(msgs.map((m) => m.type), [nl.RTM_NEWNEIGH, nl.NLMSG_ERROR]);
    const n = nl.parseNeigh(msgs[0]!);
    assert.equal(n.family, nl.AF_INET);
    assert.equal(n.index, 3);
    assert.equal(n.state, nl.NUD_REACHABLE);
    assert.equal(n.type, 1);
    assert.deepEqual(n.dst, Buffer.from([192, 168, 77, 2]));
    assert.deepEqual(n.lladdr, hex('0200000000a1'));
    assert.equal(n.probes, 0);
    assert.equal(nl.parseError(msgs[1]!).errno, 0, 'then the ack');
  });

  it('no entry: ENOENT and the kernel\'s own words', () => {
    const [m] = nl.parseMessages(NO_NEIGH_REPLY);
    const e = nl.parseError(m!);
    assert.equal(e.errno, 2);
    assert.equal(e.requestType, nl.RTM_GETNEIGH);
    assert.equal(e.message, 'Neighbour entry not found');
  });

  it('a cut-short ndmsg is a WireError, not a RangeError', () => {
    const short = Buffer.from(NEIGH_REPLY.subarray(0, 16 + 8));
    short.writeUInt32LE(24, 0);
    assert.throws(() => nl.parseNeigh(nl.parseMessages(short)[0]!), WireError);
  });

  it('NUD states by name, as ip neigh prints them', () => {
    assert.equal(nl.nudName(nl.NUD_REACHABLE), 'REACHABLE');
    assert.equal(nl.nudName(nl.NUD_STALE), 'STALE');
    assert.equal(nl.nudName(nl.NUD_PERMANENT), 'PERMANENT');
    assert.equal(nl.nudName(0), 'NONE');
    assert.equal(nl.nudName(nl.NUD_STALE | 0x100), 'STALE|0x100');
  });
});

describe('RTA_METRICS of a route lookup', { skip: le ? false : 'the fixtures are little-endian' }, () => {
  it('the MTU and the hoplimit of the cached route, with the route itself', () => {
    const [m] = nl.parseMessages(ROUTE_REPLY);
    assert.deepEqual(nl.parseRouteMetrics(m!), { mtu: 1400, hoplimit: 7 });
    const r = nl.parseRoute(m!);
    assert.deepEqual([r.oif, r.gateway, r.prefsrc], [3, Buffer.from([192, 168, 77, 2]), Buffer.from([192, 168, 77, 1])]);
  });

  it('a route without metrics: undefined', () => {
    const b = Buffer.from(ROUTE_REPLY.subarray(0, 0x84));
    // Cut the message before RTA_METRICS (at 16 + 12 + 5 * 8 = 68).
    const cut = Buffer.from(b.subarray(0, 68));
    cut.writeUInt32LE(68, 0);
    assert.equal(nl.parseRouteMetrics(nl.parseMessages(cut)[0]!), undefined);
  });

  it('a metric of the wrong size is a WireError', () => {
    const bad = Buffer.from(ROUTE_REPLY.subarray(0, 0x84));
    // RTAX_HOPLIMIT's rta_len 8 -> 6: a 2-byte u32.
    bad.writeUInt16LE(6, 68 + 4 + 8);
    assert.throws(() => nl.parseRouteMetrics(nl.parseMessages(bad)[0]!), WireError);
  });
});
