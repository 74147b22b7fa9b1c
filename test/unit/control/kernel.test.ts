/**
 * KernelNet over Rtnl with a fake transport: which requests each call sends
 * (the fib lookup before an add, NLM_F_EXCL or NLM_F_REPLACE, our protocol
 * on adds and deletes) and how Rtnl's refusals are worded. The kernel itself
 * is in test/control/kernel.test.ts, whose assertions are the contract.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KernelNet, RTPROT_VXTAP, peerRoute } from '../../../src/control/kernel';
import { Rtnl, type NlTransport } from '../../../src/control/rtnl';
import { NetlinkError, RouteConflictError } from '../../../src/errors';
import * as nl from '../../../src/wire/netlink';

const TAP = 7;
const ETH = 2;

function ack(seq: number, errno = 0, extack?: string): Buffer {
  const body = Buffer.alloc(20);
  body.writeInt32LE(-errno, 0);
  body.writeUInt32LE(16, 4);
  body.writeUInt32LE(seq, 12);
  const flags = nl.NLM_F_CAPPED | (extack !== undefined ? nl.NLM_F_ACK_TLVS : 0);
  return nl.emitRequest(nl.NLMSG_ERROR, flags, seq, body, extack !== undefined ? [[nl.NLMSGERR_ATTR_MSG, extack]] : []);
}

function link(seq: number, index: number, name: string, flags = 0): Buffer {
  return nl.emitRequest(nl.RTM_NEWLINK, flags, seq, nl.emitIfinfomsg({ index, flags: nl.IFF_UP }),
    [[nl.IFLA_IFNAME, name], [nl.IFLA_MTU, { u32: 1450 }], [nl.IFLA_ADDRESS, Buffer.from('027600000001', 'hex')]]);
}

interface Held { dst: [number, number, number, number]; len: number; protocol: number; oif: number; gateway?: [number, number, number, number]; table?: number }

function route(seq: number, r: Held, flags = 0): Buffer {
  const attrs: [number, Buffer | { u32: number }][] = [[nl.RTA_TABLE, { u32: r.table ?? 254 }], [nl.RTA_DST, Buffer.from(r.dst)]];
  if (r.gateway) attrs.push([nl.RTA_GATEWAY, Buffer.from(r.gateway)]);
  attrs.push([nl.RTA_OIF, { u32: r.oif }]);
  return nl.emitRequest(nl.RTM_NEWROUTE, flags, seq,
    nl.emitRtmsg({ family: nl.AF_INET, dstLen: r.len, table: r.table ?? 254, protocol: r.protocol, type: nl.RTN_UNICAST }), attrs);
}

function done(seq: number): Buffer {
  return nl.emitRequest(nl.NLMSG_DONE, nl.NLM_F_MULTI, seq, Buffer.alloc(4));
}

/**
 * A kernel with two links (eth0 = 2, vxtap.1 = 7) and a script for route
 * requests: `lookups` answers each RTM_GETROUTE lookup in turn (a route, or
 * an errno), `adds` each RTM_NEWROUTE (an errno, 0 for the ack), `dump` is
 * the main table.
 */
class FakeKernel implements NlTransport {
  readonly sent: nl.NlMsg[] = [];
  lookups: (Held | number)[] = [];
  adds: (number | [number, string])[] = [];
  dump: Held[] = [];
  async transact(request: Buffer): Promise<Buffer> {
    await new Promise((r) => setImmediate(r));
    const m = nl.parseMessages(request)[0]!;
    this.sent.push(m);
    const seq = m.seq;
    const dumping = (m.flags & nl.NLM_F_DUMP) === nl.NLM_F_DUMP;
    switch (m.type) {
      case nl.RTM_GETLINK: {
        if (dumping) return Buffer.concat([link(seq, ETH, 'eth0', nl.NLM_F_MULTI), link(seq, TAP, 'vxtap.1', nl.NLM_F_MULTI), done(seq)]);
        const index = nl.parseLink(m).index;
        const name = index === 0 ? nl.parseAttrs(m.payload, nl.IFINFOMSG_LEN).find((a) => a.type === nl.IFLA_IFNAME)!.value.toString('utf8').replace(/\0.*$/, '') : undefined;
        if (name === 'vxtap.1' || index === TAP) return Buffer.concat([link(seq, TAP, 'vxtap.1'), ack(seq)]);
        if (name === 'eth0' || index === ETH) return Buffer.concat([link(seq, ETH, 'eth0'), ack(seq)]);
        return ack(seq, 19);
      }
      case nl.RTM_GETROUTE: {
        if (dumping) return Buffer.concat([...this.dump.map((r) => route(seq, r, nl.NLM_F_MULTI)), done(seq)]);
        const next = this.lookups.shift() ?? 101;
        return typeof next === 'number' ? ack(seq, next) : Buffer.concat([route(seq, next), ack(seq)]);
      }
      case nl.RTM_NEWROUTE: {
        const next = this.adds.shift() ?? 0;
        return typeof next === 'number' ? ack(seq, next) : ack(seq, next[0], next[1]);
      }
      default:
        return ack(seq);
    }
  }
  close(): void {}
  /** What was sent, by type: 'GETROUTE', 'NEWROUTE 0x600', ... */
  kinds(): string[] {
    return this.sent.map((m) => {
      const name = { [nl.RTM_GETLINK]: 'GETLINK', [nl.RTM_GETROUTE]: 'GETROUTE', [nl.RTM_NEWROUTE]: 'NEWROUTE', [nl.RTM_DELROUTE]: 'DELROUTE' }[m.type] ?? String(m.type);
      const extra = m.type === nl.RTM_NEWROUTE ? ` 0x${(m.flags & 0xf00).toString(16)}` : (m.flags & nl.NLM_F_DUMP) === nl.NLM_F_DUMP ? ' dump' : '';
      return `${name}${extra}`;
    });
  }
}

function kernelOver(fake: FakeKernel): KernelNet {
  return KernelNet.over(new Rtnl(fake));
}

describe('KernelNet over Rtnl (fake transport)', () => {
  it('a new peer route: a fib lookup of the network address, then NLM_F_CREATE|NLM_F_EXCL with our protocol, onlink, oif', async () => {
    const fake = new FakeKernel();
    fake.lookups = [101]; // ENETUNREACH: no route covers 10.44.2.0
    await kernelOver(fake).replaceRoute(peerRoute('10.44.2.0/24', 'vxtap.1'));
    assert.deepEqual(fake.kinds(), ['GETLINK', 'GETROUTE', 'NEWROUTE 0x600']);
    const lookup = nl.parseRoute(fake.sent[1]!);
    assert.deepEqual([lookup.dstLen, lookup.flags, lookup.dst], [32, nl.RTM_F_FIB_MATCH | nl.RTM_F_LOOKUP_TABLE, Buffer.from([10, 44, 2, 0])]);
    const add = nl.parseRoute(fake.sent[2]!);
    assert.deepEqual([add.dstLen, add.protocol, add.flags, add.scope, add.table, add.oif, add.gateway],
      [24, RTPROT_VXTAP, nl.RTNH_F_ONLINK, nl.RT_SCOPE_UNIVERSE, 254, TAP, Buffer.from([10, 44, 2, 0])]);
  });

  it('ours already there (the lookup says protocol 118, same prefix, our TAP): NLM_F_CREATE|NLM_F_REPLACE', async () => {
    const fake = new FakeKernel();
    fake.lookups = [{ dst: [10, 44, 2, 0], len: 24, protocol: RTPROT_VXTAP, oif: TAP, gateway: [10, 44, 2, 0] }];
    await kernelOver(fake).replaceRoute(peerRoute('10.44.2.0/24', 'vxtap.1'));
    // The lookup's device is named by index (one RTM_GETLINK, not a dump).
    assert.deepEqual(fake.kinds(), ['GETLINK', 'GETROUTE', 'GETLINK', 'NEWROUTE 0x500']);
  });

  it('protocol 118 through another device is another vxtap\'s: a conflict, no add', async () => {
    const fake = new FakeKernel();
    fake.lookups = [{ dst: [10, 44, 2, 0], len: 24, protocol: RTPROT_VXTAP, oif: ETH, gateway: [10, 44, 2, 0] }];
    const e = await kernelOver(fake).replaceRoute(peerRoute('10.44.2.0/24', 'vxtap.1')).then(() => null, (x: unknown) => x);
    assert.ok(e instanceof RouteConflictError);
    assert.equal(e.existing, '10.44.2.0/24 via 10.44.2.0 dev eth0 proto vxtap');
    assert.ok(!fake.kinds().some((k) => k.startsWith('NEWROUTE')));
  });

  it('a foreign route to the same prefix: RouteConflictError naming it, and no add', async () => {
    const fake = new FakeKernel();
    fake.lookups = [{ dst: [10, 44, 2, 0], len: 24, protocol: 42, oif: ETH }];
    const e = await kernelOver(fake).replaceRoute(peerRoute('10.44.2.0/24', 'vxtap.1')).then(() => null, (x: unknown) => x);
    assert.ok(e instanceof RouteConflictError);
    assert.equal(e.message, 'adding route 10.44.2.0/24 via 10.44.2.0 dev vxtap.1 onlink: 10.44.2.0/24 already has a route vxtap did not install (10.44.2.0/24 dev eth0 proto babel); left as it is');
    assert.equal(e.existing, '10.44.2.0/24 dev eth0 proto babel');
    assert.ok(!fake.kinds().some((k) => k.startsWith('NEWROUTE')));
  });

  it('a shorter match means no holder; a longer one, another table or a refused lookup ask the main table\'s dump', async () => {
    const fake = new FakeKernel();
    fake.lookups = [{ dst: [10, 0, 0, 0], len: 8, protocol: 4, oif: ETH }];
    await kernelOver(fake).replaceRoute(peerRoute('10.44.2.0/24', 'vxtap.1'));
    assert.deepEqual(fake.kinds(), ['GETLINK', 'GETROUTE', 'NEWROUTE 0x600']);

    for (const lookup of [
      { dst: [10, 44, 2, 0], len: 25, protocol: 4, oif: ETH } satisfies Held,
      { dst: [10, 44, 2, 0], len: 24, protocol: 4, oif: ETH, table: 100 } satisfies Held,
      22, // EINVAL: a blackhole covers it
    ]) {
      const f = new FakeKernel();
      f.lookups = [lookup];
      // The main table's dump holds a foreign route to exactly 10.44.2.0/24.
      f.dump = [{ dst: [10, 44, 2, 0], len: 24, protocol: 12, oif: ETH }];
      await assert.rejects(kernelOver(f).replaceRoute(peerRoute('10.44.2.0/24', 'vxtap.1')),
        (e: unknown) => e instanceof RouteConflictError && /\(10\.44\.2\.0\/24 dev eth0 proto bird\)/.test(e.message));
      assert.deepEqual(f.kinds(), ['GETLINK', 'GETROUTE', 'GETROUTE dump', 'GETLINK dump']);
    }
  });

  it('a route that appeared between the look and the add (EEXIST): looked at again, replaced when it is ours', async () => {
    const fake = new FakeKernel();
    fake.lookups = [101, { dst: [10, 44, 2, 0], len: 24, protocol: RTPROT_VXTAP, oif: TAP }];
    fake.adds = [17, 0];
    await kernelOver(fake).replaceRoute(peerRoute('10.44.2.0/24', 'vxtap.1'));
    assert.deepEqual(fake.kinds(), ['GETLINK', 'GETROUTE', 'NEWROUTE 0x600', 'GETROUTE', 'GETLINK', 'NEWROUTE 0x500']);
  });

  it('deleteRoute() names our protocol, the gateway and the device', async () => {
    const fake = new FakeKernel();
    await kernelOver(fake).deleteRoute(peerRoute('10.44.2.0/24', 'vxtap.1'));
    const del = nl.parseRoute(fake.sent[1]!);
    assert.deepEqual([fake.sent[1]!.type, del.protocol, del.scope, del.oif, del.gateway, del.dst],
      [nl.RTM_DELROUTE, RTPROT_VXTAP, nl.RT_SCOPE_NOWHERE, TAP, Buffer.from([10, 44, 2, 0]), Buffer.from([10, 44, 2, 0])]);
  });

  it('a kernel refusal keeps kernel.ts\'s words and adds the kernel\'s own (extended ack)', async () => {
    const fake = new FakeKernel();
    fake.adds = [[101, 'Nexthop has invalid gateway']];
    const e = await kernelOver(fake).replaceRoute({ dst: '10.44.3.0/24', gateway: '10.44.3.0', dev: 'vxtap.1' }).then(() => null, (x: unknown) => x);
    assert.ok(e instanceof NetlinkError);
    assert.equal(e.errno, 'ENETUNREACH');
    assert.equal(e.message, 'adding route 10.44.3.0/24 via 10.44.3.0 dev vxtap.1: ENETUNREACH ' +
      '(network unreachable: the gateway is not on the link (onlink missing, or the device has no carrier); kernel: Nexthop has invalid gateway)');
  });

  it('a timeout is ETIMEDOUT in kernel.ts\'s words; after close() calls fail with EBADF', async () => {
    const slow: NlTransport = {
      transact: () => Promise.reject(Object.assign(new Error('recv: Resource temporarily unavailable'), { code: 'EAGAIN', errno: 11 })),
      close: () => undefined,
    };
    const k = KernelNet.over(new Rtnl(slow));
    await assert.rejects(k.links(), (e: unknown) => e instanceof NetlinkError && e.errno === 'ETIMEDOUT' &&
      e.message === 'listing links: ETIMEDOUT (no answer from the kernel)');
    k.close();
    k.close();
    await assert.rejects(k.link('vxtap.1'), (e: unknown) => e instanceof NetlinkError && e.errno === 'EBADF');
  });
});
