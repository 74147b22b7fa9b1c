/**
 * Rtnl with a fake transport: what it sends, how it reads answers and
 * refusals, one request at a time, interrupted dumps, timeouts, close.
 * The real kernel is in test/control/rtnl.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NetlinkError } from '../../../src/errors';
import { checkReply, Rtnl, RtnlError, type NlTransport } from '../../../src/control/rtnl';
import * as nl from '../../../src/wire/netlink';

/** A reply message (pid 0 is fine: the transport, not Rtnl, checks the port id). */
function msg(type: number, flags: number, seq: number, struct: Buffer, attrs: [number, Buffer | string | { u32: number }][] = []): Buffer {
  return nl.emitRequest(type, flags, seq, struct, attrs);
}
function ack(seq: number, errno = 0, extack?: string): Buffer {
  const body = Buffer.alloc(20);
  body.writeInt32LE(-errno, 0);
  body.writeUInt32LE(16, 4);
  body.writeUInt32LE(seq, 12);
  const flags = nl.NLM_F_CAPPED | (extack !== undefined ? nl.NLM_F_ACK_TLVS : 0);
  return msg(nl.NLMSG_ERROR, flags, seq, body, extack !== undefined ? [[nl.NLMSGERR_ATTR_MSG, extack]] : []);
}
function done(seq: number, status = 0, flags = nl.NLM_F_MULTI): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(status, 0);
  return msg(nl.NLMSG_DONE, flags, seq, b);
}
function linkMsg(seq: number, index: number, name: string, flags = nl.NLM_F_MULTI): Buffer {
  return msg(nl.RTM_NEWLINK, flags, seq, nl.emitIfinfomsg({ index, flags: nl.IFF_UP }),
    [[nl.IFLA_IFNAME, name], [nl.IFLA_MTU, { u32: 1500 }], [nl.IFLA_ADDRESS, Buffer.from('027600000001', 'hex')]]);
}

/** Answers each request with `answer(request)`, after a turn of the event loop; records what it saw. */
class FakeTransport implements NlTransport {
  readonly sent: Buffer[] = [];
  inFlight = 0;
  maxInFlight = 0;
  closed = 0;
  constructor(private readonly answer: (req: Buffer, n: number) => Buffer | Error) {}
  async transact(request: Buffer): Promise<Buffer> {
    this.sent.push(request);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setImmediate(r));
    this.inFlight--;
    const a = this.answer(request, this.sent.length);
    if (a instanceof Error) throw a;
    return a;
  }
  close(): void { this.closed++; }
}

const seqOf = (req: Buffer): number => nl.requestSeq(req);
const typeOf = (req: Buffer): number => nl.u16(req, nl.nlmsghdr.TYPE);

describe('Rtnl (fake transport)', () => {
  it('sends one request at a time, each with a fresh sequence number, in call order', async () => {
    const fake = new FakeTransport((req) => typeOf(req) === nl.RTM_GETLINK && (nl.u16(req, 6) & nl.NLM_F_DUMP) === nl.NLM_F_DUMP
      ? Buffer.concat([linkMsg(seqOf(req), 1, 'lo'), linkMsg(seqOf(req), 2, 'eth0'), done(seqOf(req))])
      : ack(seqOf(req)));
    const r = new Rtnl(fake);
    const results = await Promise.all([r.links(), r.setLink(2, { up: true }), r.links(), r.addAddress(2, '10.0.0.1/24')]);
    assert.equal(fake.maxInFlight, 1);
    assert.deepEqual(fake.sent.map(typeOf), [nl.RTM_GETLINK, nl.RTM_NEWLINK, nl.RTM_GETLINK, nl.RTM_NEWADDR]);
    const seqs = fake.sent.map(seqOf);
    assert.equal(new Set(seqs).size, 4);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
    assert.deepEqual((results[0]).map((l) => [l.index, l.name, l.mtu, l.mac, l.up]),
      [[1, 'lo', 1500, '02:76:00:00:00:01', true], [2, 'eth0', 1500, '02:76:00:00:00:01', true]]);
  });

  it('sends what kernel.ts sends today: a peer route with RTNH_F_ONLINK, protocol and flags as given', async () => {
    const fake = new FakeTransport((req) => ack(seqOf(req)));
    const r = new Rtnl(fake);
    await r.addRoute({ dst: '10.44.2.0/24', gateway: '10.44.2.0', oif: 7, onlink: true, protocol: 0x56 }, nl.NLM_F_CREATE | nl.NLM_F_REPLACE);
    await r.deleteRoute({ dst: '10.44.2.0/24', protocol: 0x56 });
    await r.addRoute({ dst: '10.44.9.0/24', oif: 7 }, nl.NLM_F_CREATE | nl.NLM_F_EXCL);
    const [add, del, direct] = fake.sent.map((b) => ({ m: nl.parseMessages(b)[0]!, r: nl.parseRoute(nl.parseMessages(b)[0]!) }));
    assert.equal(add!.m.flags, nl.NLM_F_REQUEST | nl.NLM_F_ACK | nl.NLM_F_CREATE | nl.NLM_F_REPLACE);
    assert.deepEqual([add!.r.protocol, add!.r.flags, add!.r.scope, add!.r.type, add!.r.table, add!.r.oif], [0x56, nl.RTNH_F_ONLINK, nl.RT_SCOPE_UNIVERSE, nl.RTN_UNICAST, 254, 7]);
    assert.equal(del!.m.type, nl.RTM_DELROUTE);
    assert.deepEqual([del!.r.protocol, del!.r.scope, del!.r.type, del!.r.oif, del!.r.gateway], [0x56, nl.RT_SCOPE_NOWHERE, 0, undefined, undefined]);
    assert.deepEqual([direct!.r.protocol, direct!.r.scope, direct!.r.gateway], [nl.RTPROT_BOOT, nl.RT_SCOPE_LINK, undefined]);
  });

  it('routeGet(): one RTM_GETROUTE with the asked RTM_F_* bits; the route of the answer', async () => {
    const fake = new FakeTransport((req) => Buffer.concat([
      msg(nl.RTM_NEWROUTE, 0, seqOf(req), nl.emitRtmsg({ family: nl.AF_INET, dstLen: 24, table: 254, protocol: 118, type: nl.RTN_UNICAST, flags: nl.RTNH_F_ONLINK }),
        [[nl.RTA_TABLE, { u32: 254 }], [nl.RTA_DST, Buffer.from([10, 44, 2, 0])], [nl.RTA_PRIORITY, { u32: 5 }], [nl.RTA_GATEWAY, Buffer.from([10, 44, 2, 0])], [nl.RTA_OIF, { u32: 3 }]]),
      ack(seqOf(req)),
    ]));
    const r = new Rtnl(fake);
    const got = await r.routeGet('10.44.2.0', { fibMatch: true, lookupTable: true });
    assert.deepEqual(got, {
      dst: '10.44.2.0/24', gateway: '10.44.2.0', oif: 3, onlink: true, protocol: 118, scope: nl.RT_SCOPE_UNIVERSE,
      type: nl.RTN_UNICAST, priority: 5, table: 254, flags: nl.RTNH_F_ONLINK,
    });
    await r.routeGet('10.44.2.0');
    await r.routeGet('10.44.2.0', { fibMatch: true });
    const sent = fake.sent.map((b) => nl.parseMessages(b)[0]!);
    assert.deepEqual(sent.map((m) => [m.type, m.flags]), Array(3).fill([nl.RTM_GETROUTE, nl.NLM_F_REQUEST | nl.NLM_F_ACK]));
    assert.deepEqual(sent.map((m) => nl.parseRoute(m)).map((x) => [x.dstLen, x.flags, x.dst]), [
      [32, nl.RTM_F_FIB_MATCH | nl.RTM_F_LOOKUP_TABLE, Buffer.from([10, 44, 2, 0])],
      [32, 0, Buffer.from([10, 44, 2, 0])],
      [32, nl.RTM_F_FIB_MATCH, Buffer.from([10, 44, 2, 0])],
    ]);
  });

  it('routeGet(): the lookup\'s refusals are RtnlErrors with its errno; a bad address sends nothing', async () => {
    let errno = 101;
    const fake = new FakeTransport((req) => ack(seqOf(req), errno));
    const r = new Rtnl(fake);
    for (const [n, name] of [[101, 'ENETUNREACH'], [22, 'EINVAL'], [113, 'EHOSTUNREACH'], [13, 'EACCES']] as const) {
      errno = n;
      const e = await r.routeGet('10.44.23.0', { fibMatch: true, lookupTable: true }).then(() => null, (x: unknown) => x);
      assert.ok(e instanceof RtnlError, String(e));
      assert.deepEqual([e.errno, e.errnoNumber], [name, n]);
      assert.equal(e.message, `RTM_GETROUTE 10.44.23.0 fibmatch lookup-table: ${name}`);
    }
    // An ack without the route: a broken answer, not "no route".
    errno = 0;
    await assert.rejects(r.routeGet('10.44.23.0'), (e: unknown) => e instanceof RtnlError && e.errno === 'EPROTO');
    const before = fake.sent.length;
    await assert.rejects(r.routeGet('10.44.23.0/24'), { code: 'VXTAP_ERR_CONFIG' });
    assert.equal(fake.sent.length, before);
  });

  it('a refusal is an RtnlError (a NetlinkError) with the errno name, number and extended ack', async () => {
    const r = new Rtnl(new FakeTransport((req) => ack(seqOf(req), 101, 'Nexthop has invalid gateway')));
    const err = await r.addRoute({ dst: '10.44.3.0/24', gateway: '10.44.3.0', oif: 3 }, nl.NLM_F_CREATE).then(() => null, (e: unknown) => e);
    assert.ok(err instanceof RtnlError && err instanceof NetlinkError);
    assert.deepEqual([err.code, err.errno, err.errnoNumber, err.extack], ['VXTAP_ERR_NETLINK', 'ENETUNREACH', 101, 'Nexthop has invalid gateway']);
    assert.equal(err.message, 'RTM_NEWROUTE 10.44.3.0/24 via 10.44.3.0 oif 3 proto 3: ENETUNREACH (kernel: Nexthop has invalid gateway)');
  });

  it('link() and linkByIndex() answer null for ENODEV, and throw anything else', async () => {
    let errno = 19;
    const r = new Rtnl(new FakeTransport((req) => ack(seqOf(req), errno)));
    assert.equal(await r.link('nope0'), null);
    assert.equal(await r.linkByIndex(42), null);
    errno = 1;
    await assert.rejects(r.link('x'), (e: unknown) => e instanceof RtnlError && e.errno === 'EPERM');
  });

  it('a link lookup reads the one RTM_NEWLINK before the ack', async () => {
    const r = new Rtnl(new FakeTransport((req) => Buffer.concat([linkMsg(seqOf(req), 5, 'tap0', 0), ack(seqOf(req))])));
    assert.deepEqual(await r.link('tap0'), { index: 5, name: 'tap0', mtu: 1500, mac: '02:76:00:00:00:01', up: true, flags: nl.IFF_UP, master: 0 });
  });

  it('a dump marked NLM_F_DUMP_INTR is read again; three in a row are EINTR', async () => {
    let interrupted = 2;
    const fake = new FakeTransport((req) => {
      const intr = interrupted-- > 0 ? nl.NLM_F_DUMP_INTR : 0;
      return Buffer.concat([linkMsg(seqOf(req), 1, 'lo', nl.NLM_F_MULTI | intr), done(seqOf(req), 0, nl.NLM_F_MULTI | intr)]);
    });
    const r = new Rtnl(fake);
    assert.deepEqual((await r.links()).map((l) => l.name), ['lo']);
    assert.equal(fake.sent.length, 3);
    interrupted = 3;
    await assert.rejects(r.links(), (e: unknown) => e instanceof RtnlError && e.errno === 'EINTR' && /interrupted 3 times/.test(e.message));
  });

  it('a dump that ends in a negative NLMSG_DONE status is that errno', async () => {
    const r = new Rtnl(new FakeTransport((req) => done(seqOf(req), -12)));
    await assert.rejects(r.routes(), (e: unknown) => e instanceof RtnlError && e.errno === 'ENOMEM');
  });

  it('a timeout (EAGAIN from the transport) is ETIMEDOUT; the next request still runs', async () => {
    const fake = new FakeTransport((req, n) => n === 1
      ? Object.assign(new Error('nlTransact: waiting for the answer: Resource temporarily unavailable (EAGAIN)'), { code: 'EAGAIN', errno: 11, syscall: 'recv' })
      : ack(seqOf(req)));
    const r = new Rtnl(fake);
    await assert.rejects(r.setLink(3, { up: true }), (e: unknown) => e instanceof RtnlError && e.errno === 'ETIMEDOUT' && /no answer from the kernel/.test(e.message));
    await r.setLink(3, { up: true });
    assert.equal(fake.sent.length, 2);
  });

  it('a reply that does not parse is EPROTO naming the fault, never a RangeError', async () => {
    const r = new Rtnl(new FakeTransport((req) => ack(seqOf(req)).subarray(0, 30)));
    await assert.rejects(r.setLink(3, { mtu: 1400 }), (e: unknown) => e instanceof RtnlError && e.errno === 'EPROTO' && /nlmsg_len 36 runs past the reply/.test(e.message));
    assert.throws(() => checkReply('x', Buffer.from('0c000000', 'hex')), (e: unknown) => e instanceof RtnlError && e.errno === 'EPROTO');
  });

  it('bad arguments are ConfigErrors and send nothing; an empty setLink sends nothing', async () => {
    const fake = new FakeTransport((req) => ack(seqOf(req)));
    const r = new Rtnl(fake);
    await assert.rejects(r.setLink(3, { mac: 'zz' }), { code: 'VXTAP_ERR_CONFIG' });
    await assert.rejects(r.setLink(3, { mtu: 67 }), { code: 'VXTAP_ERR_CONFIG' });
    await assert.rejects(r.addRoute({ dst: '10.44.2.1/24', oif: 3 }, 0), { code: 'VXTAP_ERR_CONFIG' });
    await assert.rejects(r.addRoute({ dst: '10.44.2.0/24', gateway: '10.44.2', oif: 3 }, 0), { code: 'VXTAP_ERR_CONFIG' });
    await assert.rejects(r.addAddress(3, '10.0.0.1'), { code: 'VXTAP_ERR_CONFIG' });
    await r.setLink(3, {});
    assert.equal(fake.sent.length, 0);
  });

  it('close() waits for queued requests, closes the transport once, and later calls are EBADF', async () => {
    const fake = new FakeTransport((req) => ack(seqOf(req)));
    const r = new Rtnl(fake);
    const pending = r.setLink(3, { up: true });
    const closing = r.close();
    await pending;
    await closing;
    await r.close();
    assert.equal(fake.closed, 1);
    assert.equal(fake.sent.length, 1);
    await assert.rejects(r.links(), (e: unknown) => e instanceof RtnlError && e.errno === 'EBADF');
  });
});
