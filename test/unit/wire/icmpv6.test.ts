/**
 * ICMPv6 and Neighbor Discovery (src/wire/icmpv6.ts). The golden bytes are
 * the kernel's own: the inner NS/NA packets of
 * test/fixtures/kernel-vxlan6-vni42.pcap (frames 7, 8, 15, 16), written out
 * here field by field so a failure points at the field.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WireError } from '../../../src/errors';
import { macKeyFromString } from '../../../src/wire/addr';
import * as icmpv6 from '../../../src/wire/icmpv6';
import * as ipv6 from '../../../src/wire/ipv6';

/** Hex with spaces, comments and line breaks allowed. */
function hex(text: string): Buffer {
  return Buffer.from(text.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex');
}

// Frame 7: fd60::1 asks the solicited-node group of fd60::2 for its MAC.
const NS_MULTICAST = hex(`
  6000 0000 0020 3aff                        # IPv6: payload 32, next header 58, hop limit 255
  fd60 0000 0000 0000 0000 0000 0000 0001    # src fd60::1
  ff02 0000 0000 0000 0000 0001 ff00 0002    # dst ff02::1:ff00:2 (solicited-node group of fd60::2)
  87 00 7c77                                 # type 135 NS, code 0, checksum 0x7c77
  0000 0000                                  # reserved
  fd60 0000 0000 0000 0000 0000 0000 0002    # target fd60::2
  01 01 026000000001                         # option 1 (source link-layer address), length 1 (8 bytes)
`);

// Frame 8: the kernel's answer, solicited and override, with the target link-layer address.
const NA_SOLICITED = hex(`
  6000 0000 0020 3aff
  fd60 0000 0000 0000 0000 0000 0000 0002    # src fd60::2 (the target)
  fd60 0000 0000 0000 0000 0000 0000 0001    # dst fd60::1 (the asker)
  88 00 1b1a                                 # type 136 NA, code 0, checksum 0x1b1a
  6000 0000                                  # flags: R 0, S 1, O 1
  fd60 0000 0000 0000 0000 0000 0000 0002    # target fd60::2
  02 01 026000000002                         # option 2 (target link-layer address), length 1
`);

// Frame 15: a unicast NS (reachability probe) from a link-local address.
const NS_UNICAST = hex(`
  6000 0000 0020 3aff
  fe80 0000 0000 0000 0060 00ff fe00 0002    # src fe80::60:ff:fe00:2
  fd60 0000 0000 0000 0000 0000 0000 0001    # dst fd60::1 (the target itself)
  87 00 7c9b 0000 0000
  fd60 0000 0000 0000 0000 0000 0000 0001
  01 01 026000000002
`);

// Frame 16: Linux answers a unicast NS with S only and no option.
const NA_NO_OPTION = hex(`
  6000 0000 0018 3aff                        # payload 24
  fd60 0000 0000 0000 0000 0000 0000 0001
  fe80 0000 0000 0000 0060 00ff fe00 0002
  88 00 3f06 4000 0000                       # S only
  fd60 0000 0000 0000 0000 0000 0000 0001
`);

const MAC1 = macKeyFromString('02:60:00:00:00:01');
const MAC2 = macKeyFromString('02:60:00:00:00:02');

const wireErr = (check: number) => (e: unknown): boolean =>
  e instanceof icmpv6.NdError && e instanceof WireError && e.code === 'VXTAP_ERR_WIRE' && e.check === check && e.reason === icmpv6.ndCheckName(check);

describe('icmpv6', () => {
  it('field offsets and sizes', () => {
    assert.deepEqual(icmpv6.field, { TYPE: 0, CODE: 1, CHECKSUM: 2, BODY: 4 });
    assert.deepEqual(icmpv6.ndField, { FLAGS: 4, TARGET: 8, OPTIONS: 24 });
    assert.equal(icmpv6.ND_MIN_LEN, 24);
    assert.equal(icmpv6.NA_LEN, 32);
    assert.equal(icmpv6.targetOffset(0), 48);
  });

  it('the checksum covers the IPv6 pseudo-header: the kernel\'s four checksums', () => {
    for (const [p, c] of [[NS_MULTICAST, 0x7c77], [NA_SOLICITED, 0x1b1a], [NS_UNICAST, 0x7c9b], [NA_NO_OPTION, 0x3f06]] as const) {
      const len = p.length - 40;
      assert.equal(icmpv6.computeChecksum(p, 40, len, 8, 24), c);
      assert.equal(icmpv6.checksumAfterIpv6(p, 0, len), c);
      assert.equal(icmpv6.verifyChecksum(p, 40, len, 8, 24), true);
      // The same message between other addresses does not verify: the pseudo-header counts.
      const moved = Buffer.from(p); moved[23] ^= 0x10;
      assert.equal(icmpv6.verifyChecksum(moved, 40, len, 8, 24), false);
      const view = icmpv6.Icmpv6Packet.checked(p, 40, len);
      assert.equal(view.checksum, c);
      assert.equal(view.checksumOk(8, 24), true);
    }
  });

  it('decodes the kernel\'s multicast NS and solicited NA', () => {
    const ns = icmpv6.NdPacket.checked(NS_MULTICAST, 0, NS_MULTICAST.length);
    assert.equal(ns.isSolicitation, true);
    assert.equal(ns.hopLimit, 255);
    assert.equal(ns.target, 'fd60::2');
    assert.equal(ns.linkLayer(icmpv6.OPT_SOURCE_LLA), '02:60:00:00:00:01');
    assert.equal(ns.linkLayerKey(icmpv6.OPT_SOURCE_LLA), MAC1);
    assert.equal(ns.linkLayer(icmpv6.OPT_TARGET_LLA), undefined);
    assert.deepEqual(icmpv6.parse(ns), { kind: 'ns', src: 'fd60::1', dst: 'ff02::1:ff00:2', target: 'fd60::2', sourceLinkLayer: '02:60:00:00:00:01' });

    const na = icmpv6.NdPacket.checked(NA_SOLICITED, 0, NA_SOLICITED.length);
    assert.equal(na.isSolicitation, false);
    assert.deepEqual([na.router, na.solicited, na.override], [false, true, true]);
    assert.deepEqual(icmpv6.parse(na), {
      kind: 'na', src: 'fd60::2', dst: 'fd60::1', target: 'fd60::2', router: false, solicited: true, override: true, targetLinkLayer: '02:60:00:00:00:02',
    });
    assert.deepEqual(icmpv6.parse(icmpv6.NdPacket.checked(NA_NO_OPTION, 0, NA_NO_OPTION.length)), {
      kind: 'na', src: 'fd60::1', dst: 'fe80::60:ff:fe00:2', target: 'fd60::1', router: false, solicited: true, override: false, targetLinkLayer: undefined,
    });
  });

  it('emits all four kernel packets byte for byte from their Repr', () => {
    for (const p of [NS_MULTICAST, NA_SOLICITED, NS_UNICAST, NA_NO_OPTION]) {
      const repr = icmpv6.parse(icmpv6.NdPacket.checked(p, 0, p.length));
      const out = Buffer.alloc(icmpv6.bufferLen(repr));
      assert.equal(icmpv6.emit(repr, out, 0), p.length);
      assert.deepEqual(out, p);
    }
  });

  it('emitNaForNs answers the kernel\'s NS with the kernel\'s NA (frame 7 -> frame 8), into another buffer and in place', () => {
    const out = Buffer.alloc(80, 0xee);
    assert.equal(icmpv6.emitNaForNs(NS_MULTICAST, 0, out, 4, MAC2), 72);
    assert.deepEqual(out.subarray(4, 76), NA_SOLICITED);
    assert.equal(out[3], 0xee);
    assert.equal(out[76], 0xee);
    const inPlace = Buffer.from(NS_MULTICAST);
    icmpv6.emitNaForNs(inPlace, 0, inPlace, 0, MAC2);
    assert.deepEqual(inPlace, NA_SOLICITED);
  });

  it('emitNaForNs: a unicast NS gets S and O and the option; a DAD NS an unsolicited NA to all-nodes', () => {
    const out = Buffer.alloc(72);
    icmpv6.emitNaForNs(NS_UNICAST, 0, out, 0, MAC1);
    const na = icmpv6.NdPacket.checked(out, 0, 72);
    assert.deepEqual(icmpv6.parse(na), {
      kind: 'na', src: 'fd60::1', dst: 'fe80::60:ff:fe00:2', target: 'fd60::1', router: false, solicited: true, override: true, targetLinkLayer: '02:60:00:00:00:01',
    });
    // DAD: from ::, to the solicited-node group, no option (RFC 4861 section 7.2.4: answer to ff02::1, Solicited clear).
    const dad = Buffer.alloc(64);
    icmpv6.emit({ kind: 'ns', src: '::', dst: 'ff02::1:ff00:2', target: 'fd60::2' }, dad, 0);
    icmpv6.emitNaForNs(dad, 0, out, 0, MAC2, true, false);
    assert.deepEqual(icmpv6.parse(icmpv6.NdPacket.checked(out, 0, 72)), {
      kind: 'na', src: 'fd60::2', dst: 'ff02::1', target: 'fd60::2', router: false, solicited: false, override: true, targetLinkLayer: '02:60:00:00:00:02',
    });
  });

  it('every RFC 4861 section 7.1 check fails with its own stable code', () => {
    const cases: [string, number, (b: Buffer) => Buffer][] = [
      ['hop limit 64', icmpv6.ND_HOP_LIMIT_NOT_255, (b) => { b[7] = 64; return b; }],
      ['code 1', icmpv6.ND_CODE_NOT_0, (b) => { b[41] = 1; return b; }],
      ['a flipped bit', icmpv6.ND_BAD_CHECKSUM, (b) => { b[70] ^= 1; return b; }],
      ['payload under 24', icmpv6.ND_TOO_SHORT, (b) => { b[5] = 20; return b.subarray(0, 60); }],
      ['payload past the end', icmpv6.ND_TOO_SHORT, (b) => b.subarray(0, 70)],
      ['not ND', icmpv6.ND_NOT_ND, (b) => { b[40] = 128; return b; }],
    ];
    for (const [what, check, mangle] of cases) {
      const b = mangle(Buffer.from(NS_MULTICAST));
      assert.equal(icmpv6.checkNd(b, 0, b.length), check, what);
      assert.throws(() => icmpv6.NdPacket.checked(b, 0, b.length), wireErr(check), what);
    }
    // The checks past the checksum: build each with a right checksum.
    const resum = (b: Buffer): Buffer => { b.writeUInt16BE(0, 42); icmpv6.fillChecksum(b, 40, b.length - 40, 8, 24); return b; };
    const target = resum(Buffer.from(NS_MULTICAST).fill(0xff, 48, 49));
    assert.equal(icmpv6.checkNd(target, 0, target.length), icmpv6.ND_TARGET_MULTICAST);
    const zeroOpt = resum((() => { const b = Buffer.from(NS_MULTICAST); b[65] = 0; return b; })());
    assert.equal(icmpv6.checkNd(zeroOpt, 0, zeroOpt.length), icmpv6.ND_OPTION_ZERO_LENGTH);
    const overrun = resum((() => { const b = Buffer.from(NS_MULTICAST); b[65] = 2; return b; })());
    assert.equal(icmpv6.checkNd(overrun, 0, overrun.length), icmpv6.ND_OPTION_OVERRUN);
    const longLla = Buffer.concat([Buffer.from(NS_MULTICAST), Buffer.alloc(8)]);
    longLla.writeUInt16BE(40, 4); longLla[65] = 2;
    resum(longLla);
    assert.equal(icmpv6.checkNd(longLla, 0, longLla.length), icmpv6.ND_LLA_OPTION_LENGTH);
    // An unknown option of any non-zero length is skipped, as RFC 4861 section 4.6 says.
    const unknownOpt = Buffer.from(longLla); unknownOpt[64] = 14; resum(unknownOpt);
    assert.equal(icmpv6.checkNd(unknownOpt, 0, unknownOpt.length), icmpv6.ND_OK);
    // DAD: from ::, only to a solicited-node group, and without a source link-layer option.
    const dadToTarget = Buffer.from(NS_UNICAST).fill(0, 8, 24).subarray(0, 64); dadToTarget[5] = 24; resum(dadToTarget);
    assert.equal(icmpv6.checkNd(dadToTarget, 0, dadToTarget.length), icmpv6.ND_DAD_NOT_SOLICITED_NODE);
    const dadWithLla = resum(Buffer.from(NS_MULTICAST).fill(0, 8, 24));
    assert.equal(icmpv6.checkNd(dadWithLla, 0, dadWithLla.length), icmpv6.ND_DAD_WITH_SOURCE_LLA);
    // An NA to a multicast address must not claim to be solicited.
    const naMulti = Buffer.from(NA_SOLICITED); ipv6.ALL_NODES.copy(naMulti, 24); resum(naMulti);
    assert.equal(icmpv6.checkNd(naMulti, 0, naMulti.length), icmpv6.ND_SOLICITED_TO_MULTICAST);
    naMulti[44] = icmpv6.NA_FLAG_OVERRIDE; resum(naMulti);
    assert.equal(icmpv6.checkNd(naMulti, 0, naMulti.length), icmpv6.ND_OK);
    // Every code has a distinct, stable name.
    const names = Array.from({ length: 13 }, (_, i) => icmpv6.ndCheckName(i));
    assert.deepEqual(names, [
      'ok', 'nd-too-short', 'nd-not-nd', 'nd-hop-limit', 'nd-code', 'nd-checksum', 'nd-target-multicast', 'nd-option-zero-length',
      'nd-option-overrun', 'nd-lla-option-length', 'nd-dad-not-solicited-node', 'nd-dad-with-source-lla', 'nd-solicited-to-multicast',
    ]);
    assert.equal(icmpv6.ndCheckName(99), 'nd-check-99');
  });

  it('checked() says what is wrong, with the numbers', () => {
    const b = Buffer.from(NS_MULTICAST); b[7] = 1;
    assert.throws(() => icmpv6.NdPacket.checked(b, 0, b.length), /hop limit is not 255: it may have come through a router \(hop limit 1\)/);
    const c = Buffer.from(NS_MULTICAST); c[42] = 0;
    assert.throws(() => icmpv6.NdPacket.checked(c, 0, c.length), /the ICMPv6 checksum is wrong \(0x0077, should be 0x7c77\)/);
    assert.throws(() => icmpv6.NdPacket.checked(NS_MULTICAST, 0, 200), /runs past the 72-byte buffer/);
    assert.throws(() => icmpv6.Icmpv6Packet.checked(NS_MULTICAST, 40, 3), /3 bytes, the header needs 4 \(1 short\)/);
  });

  it('emit() refuses what RFC 4861 forbids a sender', () => {
    const out = Buffer.alloc(80);
    assert.throws(() => icmpv6.emit({ kind: 'ns', src: 'fd60::1', dst: 'ff02::1:ff00:2', target: 'ff02::1' }, out, 0), wireErr(icmpv6.ND_TARGET_MULTICAST));
    assert.throws(() => icmpv6.emit({ kind: 'ns', src: '::', dst: 'fd60::2', target: 'fd60::2' }, out, 0), wireErr(icmpv6.ND_DAD_NOT_SOLICITED_NODE));
    assert.throws(() => icmpv6.emit({ kind: 'ns', src: '::', dst: 'ff02::1:ff00:2', target: 'fd60::2', sourceLinkLayer: '02:00:00:00:00:01' }, out, 0),
      wireErr(icmpv6.ND_DAD_WITH_SOURCE_LLA));
    assert.throws(() => icmpv6.emit({ kind: 'na', src: 'fd60::2', dst: 'ff02::1', target: 'fd60::2', router: false, solicited: true, override: true }, out, 0),
      wireErr(icmpv6.ND_SOLICITED_TO_MULTICAST));
  });

  it('works at a non-zero offset in a pooled slice', () => {
    const slab = Buffer.alloc(200, 0xee).subarray(7);
    NS_MULTICAST.copy(slab, 21);
    assert.equal(icmpv6.checkNd(slab, 21, 72), icmpv6.ND_OK);
    assert.equal(icmpv6.findOption(slab, 21, icmpv6.OPT_SOURCE_LLA), 21 + 64);
    assert.equal(icmpv6.NdPacket.checked(slab, 21, 72).target, 'fd60::2');
    // Trailing bytes (Ethernet padding) past the payload length are not the message's.
    assert.equal(icmpv6.checkNd(slab, 21, 90), icmpv6.ND_OK);
  });

  it('names types, keeping unknown ones', () => {
    assert.equal(icmpv6.typeName(135), 'neighbor-solicitation');
    assert.equal(icmpv6.typeName(136), 'neighbor-advertisement');
    assert.equal(icmpv6.typeName(128), 'echo-request');
    assert.equal(icmpv6.typeName(2), 'packet-too-big');
    assert.equal(icmpv6.typeName(200), 'type-200');
    assert.equal(icmpv6.isNd(135) && icmpv6.isNd(136) && !icmpv6.isNd(133), true);
  });
});
