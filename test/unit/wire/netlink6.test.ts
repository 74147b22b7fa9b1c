/**
 * The rtnetlink codec's IPv6 requests (issue #13, the IPv6 overlay), against
 * what iproute2 sends for the same commands. How the golden bytes were made
 * (2026-11-30, as root, kernel 6.18, iproute2 6.1, x86-64 so the netlink
 * integers are little-endian), in a namespace where t0 is ifindex 3:
 *
 *   strace -e trace=sendmsg -xx ip -6 addr add fd00:0:0:1::/128 dev t0 nodad
 *   strace -e trace=sendmsg -xx ip -6 route add fd00:0:0:2::/64 via fd00:0:0:2:: dev t0 onlink proto 118
 *
 * strace printed the messages field by field (nlmsg_len=64 RTM_NEWADDR
 * NLM_F_REQUEST|NLM_F_ACK|NLM_F_EXCL|NLM_F_CREATE, ifa_family=AF_INET6,
 * ifa_prefixlen=128, ifa_flags=IFA_F_NODAD, IFA_LOCAL then IFA_ADDRESS; and
 * nlmsg_len=76 RTM_NEWROUTE, rtm_dst_len=64, rtm_table=RT_TABLE_MAIN,
 * rtm_protocol=0x76, universe, unicast, rtm_flags=0x4, RTA_DST, RTA_GATEWAY,
 * RTA_OIF); the bytes below are those fields, with our sequence number.
 */
import assert from 'node:assert/strict';
import { endianness } from 'node:os';
import { describe, it } from 'node:test';
import { WireError } from '../../../src/errors';
import * as nl from '../../../src/wire/netlink';
import * as ipv6 from '../../../src/wire/ipv6';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const LE = endianness() === 'LE';

describe('netlink codec, IPv6', { skip: LE ? false : 'the golden bytes are little-endian' }, () => {
  it('addr6Request(): `ip -6 addr add fd00:0:0:1::/128 dev t0 nodad`, byte for byte', () => {
    const req = nl.addr6Request(0x01020304, nl.RTM_NEWADDR, nl.NLM_F_CREATE | nl.NLM_F_EXCL,
      { index: 3, prefixLen: 128, addr: ipv6.parseAddress('fd00:0:0:1::'), nodad: true });
    assert.equal(req.toString('hex'), hex(`
      40000000 1400 0506 04030201 00000000
      0a 80 02 00 03000000
      1400 0200 fd000000000000010000000000000000
      1400 0100 fd000000000000010000000000000000
    `).toString('hex'));
    // Read back by the reply parser.
    const a = nl.parseAddr(nl.parseMessages(req)[0]!);
    assert.deepEqual([a.family, a.prefixLen, a.flags, a.index, ipv6.formatAddress(a.local!)], [nl.AF_INET6, 128, nl.IFA_F_NODAD, 3, 'fd00:0:0:1::']);
  });

  it('routeRequest() with AF_INET6: `ip -6 route add fd00:0:0:2::/64 via fd00:0:0:2:: dev t0 onlink proto 118`, byte for byte', () => {
    const gw = ipv6.parseAddress('fd00:0:0:2::');
    const req = nl.routeRequest(0x01020304, nl.RTM_NEWROUTE, nl.NLM_F_CREATE | nl.NLM_F_EXCL, {
      family: nl.AF_INET6, dstLen: 64, table: nl.RT_TABLE_MAIN, protocol: 118, scope: nl.RT_SCOPE_UNIVERSE,
      type: nl.RTN_UNICAST, flags: nl.RTNH_F_ONLINK, dst: gw, gateway: gw, oif: 3,
    });
    assert.equal(req.toString('hex'), hex(`
      4c000000 1800 0506 04030201 00000000
      0a 40 00 00 fe 76 00 01 04000000
      1400 0100 fd000000000000020000000000000000
      1400 0500 fd000000000000020000000000000000
      0800 0400 03000000
    `).toString('hex'));
    const back = nl.parseRoute(nl.parseMessages(req)[0]!);
    assert.deepEqual([back.family, back.dstLen, back.protocol, back.flags, back.oif, ipv6.formatAddress(back.dst!), ipv6.formatAddress(back.gateway!)],
      [nl.AF_INET6, 64, 118, nl.RTNH_F_ONLINK, 3, 'fd00:0:0:2::', 'fd00:0:0:2::']);
  });

  it('the IPv6 dumps ask for AF_INET6 (10)', () => {
    assert.equal(nl.dumpRoutesRequest(1, nl.AF_INET6)[16], 10);
    assert.equal(nl.dumpAddrsRequest(1, nl.AF_INET6)[16], 10);
  });

  it('addr6Request() refuses a 4-byte address and a prefix over 128', () => {
    assert.throws(() => nl.addr6Request(1, nl.RTM_NEWADDR, 0, { index: 1, prefixLen: 32, addr: Buffer.alloc(4) }), WireError);
    assert.throws(() => nl.addr6Request(1, nl.RTM_NEWADDR, 0, { index: 1, prefixLen: 129, addr: Buffer.alloc(16) }), WireError);
  });
});
