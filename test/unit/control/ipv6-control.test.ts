/**
 * flannel's dual-stack layout in vxtap's control plane (issue #13, part 3;
 * docs/ipv6-control.md): the IPv6 helpers (control/ip6.ts), the config's
 * IPv6 fields, the three lease key forms and the value's IPv6 fields, and the
 * rules for a lease's IPv6 half (a refused half drops that half only).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors';
import {
  cidr6Overlaps, formatCidr6, formatIpv6, isIpv6, parseCidr6, parseIpv6, parseLooseCidr6, publicIpv6Fault,
} from '../../../src/control/ip6';
import {
  buildConfig, formatConfig, leaseKey, parseLeaseKey, parseNetworkConfig, parseSubnetKey,
} from '../../../src/control/etcd/network-config';
import { decodeLease, encodeLease, leaseToPeer } from '../../../src/control/etcd/lease-codec';
import { LeaseFormatError } from '../../../src/control/etcd/errors';
import { firstAddress6, formatSubnetFile, parseSubnetFile } from '../../../src/control/etcd/subnet-file';
import { GuardedPeerSource } from '../../../src/control/lease-guard';
import { parsePeersConfig } from '../../../src/control/static-peers';
import { checkHalf6, selfOf, type NetworkShape } from '../../../src/control/lease-rules';
import { macFromIp, type Peer, type PeerEvent, type PeerSource } from '../../../src/control/peers';
import { parseCidr, parseIpv4 } from '../../../src/wire/addr';

// ---- ip6.ts ----------------------------------------------------------------------

test('ip6: parse and format are RFC 5952, as Go writes flannel\'s keys', () => {
  const cases: [string, string][] = [
    ['fc00:0:0:34::', 'fc00:0:0:34::'],
    ['FC00:0000:0000:0034:0000:0000:0000:0000', 'fc00:0:0:34::'],
    ['2001:cafe:42:0::', '2001:cafe:42::'],
    ['::', '::'],
    ['::1', '::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'], // the longer run is the one compressed
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // a tie: the first run
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group stays "0"
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['fe80::1', 'fe80::1'],
  ];
  for (const [text, canon] of cases) assert.equal(formatIpv6(parseIpv6(text)), canon, text);
  assert.equal(parseIpv6('::1'), 1n);
  assert.equal(parseIpv6('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'), (1n << 128n) - 1n);
  for (const bad of ['fc00:::1', '1.2.3.4', 'fe80::1%eth0', 'g::', '', '1:2:3:4:5:6:7:8:9']) {
    assert.equal(isIpv6(bad), false, bad);
    assert.throws(() => parseIpv6(bad), RangeError, bad);
  }
});

test('ip6: prefixes (host bits, containment, overlap) and what cannot be a VTEP', () => {
  assert.deepEqual(parseCidr6('fc00:0:0:34::/64'), { addr: parseIpv6('fc00:0:0:34::'), len: 64 });
  assert.throws(() => parseCidr6('fc00::5/64'), /host bits/);
  assert.throws(() => parseCidr6('fc00::/129'), /not an IPv6 CIDR/);
  assert.equal(parseLooseCidr6('fc00::5/64')!.addr, parseIpv6('fc00::'));
  assert.equal(formatCidr6(parseCidr6('2001:cafe:42::/56')), '2001:cafe:42::/56');
  assert.ok(cidr6Overlaps(parseCidr6('fc00::/48'), parseCidr6('fc00:0:0:34::/64')));
  assert.ok(!cidr6Overlaps(parseCidr6('fc00:0:0:34::/64'), parseCidr6('fc00:0:0:35::/64')));
  for (const bad of ['::', '::1', 'ff02::1', 'fe80::1', '::ffff:10.0.0.1', '::10.0.0.1', '100::1']) {
    assert.notEqual(publicIpv6Fault(parseIpv6(bad)), null, bad);
  }
  for (const ok of ['fd00::1', '2001:db8::1', '2a01:4f8::1']) assert.equal(publicIpv6Fault(parseIpv6(ok)), null, ok);
});

// ---- the config ------------------------------------------------------------------

const V4 = '"Network":"10.5.0.0/16","Backend":{"Type":"vxlan","VNI":1,"Port":4789}';

test('config: EnableIPv6 with flannel\'s defaults (IPv6SubnetLen 64, the second and the last subnet)', () => {
  const cfg = parseNetworkConfig(`{${V4},"EnableIPv6":true,"IPv6Network":"fc00::/48"}`);
  assert.ok(cfg.ipv6);
  assert.equal(formatCidr6(cfg.ipv6.network), 'fc00::/48');
  assert.equal(cfg.ipv6.subnetLen, 64);
  assert.equal(formatIpv6(cfg.ipv6.subnetMin), 'fc00:0:0:1::');
  assert.equal(formatIpv6(cfg.ipv6.subnetMax), 'fc00:0:0:ffff::');
  // A network smaller than a /62 is cut into four: prefix + 2.
  assert.equal(parseNetworkConfig(`{${V4},"EnableIPv6":true,"IPv6Network":"fc00::/120"}`).ipv6!.subnetLen, 122);
  const set = parseNetworkConfig(`{${V4},"enableipv6":true,"IPv6Network":"2001:cafe:42::/56","IPv6SubnetLen":64,"IPv6SubnetMin":"2001:cafe:42:10::","IPv6SubnetMax":"2001:cafe:42:20::"}`);
  assert.equal(formatIpv6(set.ipv6!.subnetMin), '2001:cafe:42:10::');
  assert.equal(formatIpv6(set.ipv6!.subnetMax), '2001:cafe:42:20::');
  // IPv4 only, as before: no IPv6 side; an IPv6Network without EnableIPv6 is ignored, with a word (flannel ignores it).
  assert.equal(parseNetworkConfig(`{${V4}}`).ipv6, null);
  const ignored = parseNetworkConfig(`{${V4},"IPv6Network":"fc00::/48"}`);
  assert.equal(ignored.ipv6, null);
  assert.ok(ignored.warnings.some((w) => /IPv6Network.*ignored/.test(w)), ignored.warnings.join('; '));
  // formatConfig writes the IPv6 fields out, and reads back the same.
  const again = parseNetworkConfig(formatConfig(set));
  assert.deepEqual(again.ipv6, set.ipv6);
  assert.match(formatConfig(set), /"EnableIPv6":true,"IPv6Network":"2001:cafe:42::\/56","IPv6SubnetLen":64,"IPv6SubnetMin":"2001:cafe:42:10::","IPv6SubnetMax":"2001:cafe:42:20::"/);
  assert.deepEqual(buildConfig({ network: '10.5.0.0/16', ipv6Network: 'fc00::/48' }).ipv6, cfg.ipv6);
  // Host bits in IPv6Network are dropped with a word, as flannel's net.ParseCIDR drops them.
  const masked = parseNetworkConfig(`{${V4},"EnableIPv6":true,"IPv6Network":"fc00::1/48"}`);
  assert.deepEqual(masked.ipv6, cfg.ipv6);
  assert.ok(masked.warnings.some((w) => /IPv6Network fc00::1\/48 has host bits set: using fc00::\/48/.test(w)), masked.warnings.join('; '));
});

test('config: every bad IPv6 field is a ConfigError naming it', () => {
  const bad: [string, string, RegExp][] = [
    [`{${V4},"EnableIPv4":false,"EnableIPv6":false}`, 'EnableIPv4', /both/],
    [`{${V4},"EnableIPv6":true}`, 'IPv6Network', /missing/],
    [`{${V4},"EnableIPv6":"yes","IPv6Network":"fc00::/48"}`, 'EnableIPv6', /true or false/],
    [`{${V4},"EnableIPv6":true,"IPv6Network":"10.0.0.0/8"}`, 'IPv6Network', /not an IPv6 CIDR/],
    [`{${V4},"EnableIPv6":true,"IPv6Network":"fc00::/126"}`, 'IPv6Network', /too small/],
    [`{${V4},"EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetLen":127}`, 'IPv6SubnetLen', /1\.\.126/],
    [`{${V4},"EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetLen":49}`, 'IPv6SubnetLen', /four subnets/],
    [`{${V4},"EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetLen":"64"}`, 'IPv6SubnetLen', /integer/],
    [`{${V4},"EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetMin":"fc01::"}`, 'IPv6SubnetMin', /outside IPv6Network/],
    [`{${V4},"EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetMax":"fc00:0:0:1::1"}`, 'IPv6SubnetMax', /boundary/],
    [`{${V4},"EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetMin":"nope"}`, 'IPv6SubnetMin', /not an IPv6 address/],
    [`{${V4},"EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetMin":"fc00:0:0:9::","IPv6SubnetMax":"fc00:0:0:2::"}`, 'IPv6SubnetMin', /above/],
    // IPv6-only is checked (a bad IPv6 field is named first), then refused: vxtap cannot join it yet.
    [`{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fc00::/48","IPv6SubnetLen":200,"Backend":{"Type":"vxlan"}}`, 'IPv6SubnetLen', /1\.\.126/],
    [`{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fc00::/48","Backend":{"Type":"vxlan"}}`, 'EnableIPv4', /IPv6-only/],
  ];
  for (const [text, field, re] of bad) {
    assert.throws(() => parseNetworkConfig(text), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.field, field, `${text}: ${err.message}`);
      assert.match(err.message, re);
      return true;
    }, text);
  }
});

// ---- keys and values -------------------------------------------------------------

test('keys: flannel\'s three forms, and what is not a key', () => {
  const dual = parseLeaseKey('/coreos.com/network/subnets/10.5.52.0-24&fc00:0:0:34::-64')!;
  assert.deepEqual(dual, { subnet: parseCidr('10.5.52.0/24'), subnet6: parseCidr6('fc00:0:0:34::/64') });
  assert.deepEqual(parseLeaseKey('10.5.52.0-24'), { subnet: parseCidr('10.5.52.0/24'), subnet6: null });
  assert.deepEqual(parseLeaseKey('0.0.0.0-0&fc00:0:0:34::-64'), { subnet: null, subnet6: parseCidr6('fc00:0:0:34::/64') });
  assert.equal(leaseKey('10.5.52.0/24', parseCidr6('fc00:0:0:34::/64')), '10.5.52.0-24&fc00:0:0:34::-64');
  assert.equal(leaseKey('10.5.52.0/24', null), '10.5.52.0-24');
  assert.equal(leaseKey(null, parseCidr6('fc00:0:0:34::/64')), '0.0.0.0-0&fc00:0:0:34::-64');
  assert.equal(parseSubnetKey('0.0.0.0-0&fc00::-64'), null, 'an IPv6-only key has no IPv4 subnet');
  for (const bad of [
    '10.5.52.0-24&FC00:0:0:34::-64', // flannel's regex: lower case only
    '10.5.52.0-24&fc00:::34-64', '10.5.52.0-24&fc00:0:0:34::1-64', '10.5.52.0-24&fc00::-129', '10.5.52.0-24&fc00::-', '10.5.52.0-24&-64',
    '10.5.52.0-24&fc00::-0', '0.0.0.0-0', '10.5.52.0-24&', '10.5.52.0-24&10.0.0.0-8',
  ]) assert.equal(parseLeaseKey(bad), null, bad);
});

// What flannel's vxlan backend writes on a dual-stack host (lease.LeaseAttrs marshalled by Go).
const DUAL_VALUE = '{"PublicIP":"192.168.64.3","PublicIPv6":"fd00:64::3","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"},"BackendV6Data":{"VNI":1,"VtepMAC":"d6:11:22:33:44:55"}}';
// ... and on an IPv6-only host (no IPv4 device: PublicIP is Go's zero IP4, BackendData omitted).
const V6ONLY_VALUE = '{"PublicIP":"0.0.0.0","PublicIPv6":"fd00:64::4","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"d6:11:22:33:44:66"}}';

test('values: a dual-stack lease carries its IPv6 half; encode writes flannel\'s JSON byte for byte', () => {
  const l = decodeLease('10.5.52.0-24&fc00:0:0:34::-64', DUAL_VALUE);
  assert.deepEqual(l, {
    subnet: '10.5.52.0/24', publicIp: '192.168.64.3', backendType: 'vxlan', vtepMac: 'c6:d2:32:6f:8f:44', vni: 1,
    subnet6: 'fc00:0:0:34::/64', publicIpv6: 'fd00:64::3', backendV6: { vtepMac: 'd6:11:22:33:44:55', vni: 1 },
  });
  assert.deepEqual(leaseToPeer(l), {
    subnet: '10.5.52.0/24', publicIp: '192.168.64.3', vtepMac: 'c6:d2:32:6f:8f:44',
    subnet6: 'fc00:0:0:34::/64', publicIpv6: 'fd00:64::3', vtepMac6: 'd6:11:22:33:44:55',
  });
  assert.equal(encodeLease({ publicIp: '192.168.64.3', vtepMac: 'C6:D2:32:6F:8F:44', vni: 1, publicIpv6: 'fd00:64:0::3', vtepMac6: 'd6:11:22:33:44:55' }), DUAL_VALUE);
  // One TAP for both families: BackendV6Data names the same MAC unless told otherwise.
  assert.match(encodeLease({ publicIp: '192.168.64.3', vtepMac: '02:00:00:00:00:01', vni: 7, publicIpv6: 'fd00::3' }), /"BackendV6Data":\{"VNI":7,"VtepMAC":"02:00:00:00:00:01"\}/);
  // IPv6-only: decodes, with no IPv4 half, and is no peer of the IPv4 data plane.
  const v6 = decodeLease('0.0.0.0-0&fc00:0:0:35::-64', V6ONLY_VALUE);
  assert.equal(v6.subnet, null);
  assert.equal(v6.publicIp, null);
  assert.equal(v6.subnet6, 'fc00:0:0:35::/64');
  assert.equal(leaseToPeer(v6), null);
  // A v4 key whose value carries IPv6 data: an IPv4 lease (flannel reads the key's halves, so does vxtap).
  const v4key = decodeLease('10.5.52.0-24', DUAL_VALUE);
  assert.equal(v4key.subnet6, undefined);
  assert.deepEqual(leaseToPeer(v4key), { subnet: '10.5.52.0/24', publicIp: '192.168.64.3', vtepMac: 'c6:d2:32:6f:8f:44' });
});

test('values: IPv6 parts flannel itself could not read make the whole lease malformed', () => {
  const bad: [string, string, RegExp][] = [
    ['10.5.52.0-24&fc00:0:0:34::-64', DUAL_VALUE.replace('"fd00:64::3"', '"fd00:::3"'), /PublicIPv6/],
    ['10.5.52.0-24&fc00:0:0:34::-64', DUAL_VALUE.replace('"fd00:64::3"', '7'), /PublicIPv6/],
    ['10.5.52.0-24&fc00:0:0:34::-64', DUAL_VALUE.replace('"d6:11:22:33:44:55"', '"zz"'), /BackendV6Data\.VtepMAC/],
    ['10.5.52.0-24&fc00:0:0:34::-64', DUAL_VALUE.replace('"VNI":1,"VtepMAC":"d6', '"VNI":-1,"VtepMAC":"d6'), /BackendV6Data\.VNI/],
    ['0.0.0.0-0&fc00:0:0:35::-64', V6ONLY_VALUE.replace(',"BackendV6Data":{"VNI":1,"VtepMAC":"d6:11:22:33:44:66"}', ''), /BackendV6Data/],
    ['0.0.0.0-0&fc00:0:0:35::-64', V6ONLY_VALUE.replace('"PublicIPv6":"fd00:64::4"', '"PublicIPv6":null'), /IPv6-only lease needs/],
    ['0.0.0.0-0&fc00:0:0:35::-64', V6ONLY_VALUE.replace('"0.0.0.0"', '"300.1.1.1"'), /PublicIP/],
    ['10.5.52.0-24&FC00:0:0:34::-64', DUAL_VALUE, /not a subnet key/],
  ];
  for (const [key, value, re] of bad) {
    assert.throws(() => decodeLease(key, value), (err: unknown) => {
      assert.ok(err instanceof LeaseFormatError, String(err));
      assert.match(err.message, re);
      return true;
    }, `${key} ${value}`);
  }
});

// ---- the rules for the IPv6 half -----------------------------------------------------

const SHAPE: NetworkShape = {
  network: parseCidr('10.5.0.0/16'), subnetLen: 24, subnetMin: parseIpv4('10.5.1.0'), subnetMax: parseIpv4('10.5.255.0'),
  ipv6: { network: parseCidr6('fc00::/48'), subnetLen: 64, subnetMin: parseIpv6('fc00:0:0:1::'), subnetMax: parseIpv6('fc00:0:0:ffff::') },
};
const SELF = selfOf('10.5.1.0/24', '192.168.64.1', macFromIp('192.168.64.1'), { subnet6: 'fc00:0:0:1::/64', publicIpv6: 'fd00:64::1' });

const dual = (n: number, extra: Partial<Peer> = {}): Peer => ({
  subnet: `10.5.${n}.0/24`, publicIp: `192.168.64.${n}`, vtepMac: macFromIp(`192.168.64.${n}`),
  subnet6: `fc00:0:0:${n.toString(16)}::/64`, publicIpv6: `fd00:64::${n.toString(16)}`, vtepMac6: macFromIp(`192.168.64.${n}`),
  ...extra,
});

test('rules: checkHalf6 refuses each bad IPv6 half with its reason', () => {
  const half = (p: Peer) => ({ subnet6: p.subnet6!, publicIpv6: p.publicIpv6, vtepMac6: p.vtepMac6 });
  assert.equal(checkHalf6(half(dual(2)), SELF, SHAPE.ipv6!), null);
  const cases: [Partial<Peer>, string, RegExp][] = [
    [{ subnet6: 'fc01:0:0:2::/64' }, 'network6', /not inside IPv6Network/],
    [{ subnet6: 'fc00:0:0:2::/80' }, 'network6', /\/80/],
    [{ subnet6: 'fc00::/64' }, 'network6', /IPv6SubnetMin/],
    [{ subnet6: 'fc00:0:0:1::/64' }, 'own6', /own IPv6 subnet/],
    [{ publicIpv6: undefined }, 'public-ipv6', /no PublicIPv6/],
    [{ publicIpv6: 'fe80::2' }, 'public-ipv6', /link-local/],
    [{ publicIpv6: 'ff02::2' }, 'public-ipv6', /multicast/],
    [{ publicIpv6: 'fd00:64::1' }, 'public-ipv6', /this host's own/],
    [{ publicIpv6: 'fc00:0:0:9::1' }, 'public-ipv6', /inside IPv6Network/],
    [{ vtepMac6: undefined }, 'vtep-mac6', /no BackendV6Data/],
    [{ vtepMac6: '01:00:5e:00:00:01' }, 'vtep-mac6', /multicast/],
    [{ vtepMac6: SELF.vtepMac }, 'vtep-mac6', /own VTEP MAC/],
  ];
  for (const [extra, reason, re] of cases) {
    const r = checkHalf6(half(dual(2, extra)), SELF, SHAPE.ipv6!);
    assert.equal(r?.reason, reason, JSON.stringify(extra));
    assert.match(r!.detail, re);
  }
  assert.equal(checkHalf6(half(dual(2)), SELF, null)?.reason, 'network6', 'a network without EnableIPv6');
});

class FakeSource implements PeerSource {
  private cb: ((b: PeerEvent[]) => void) | null = null;
  constructor(private readonly first: Peer[]) {}
  snapshot(): Promise<Peer[]> { return Promise.resolve(this.first); }
  watch(cb: (b: PeerEvent[]) => void): void { this.cb = cb; }
  close(): Promise<void> { return Promise.resolve(); }
  emit(batch: PeerEvent[]): void { this.cb!(batch); }
}

test('guard: a refused IPv6 half drops that half only; the IPv4 half is installed', async () => {
  const src = new FakeSource([
    dual(2),
    dual(3, { subnet6: 'fc00:0:0:2::/64' }), // its IPv6 subnet is the older lease's
    dual(4, { publicIpv6: 'fe80::4' }),
    dual(5, { subnet6: 'fc01:0:0:5::/64' }), // outside IPv6Network
    dual(6, { vtepMac6: macFromIp('192.168.64.2') }), // another lease's MAC
    { subnet: '10.5.7.0/24', publicIp: '192.168.64.7', vtepMac: macFromIp('192.168.64.7') }, // IPv4 only: as before
    dual(8, { subnet: '10.6.8.0/24' }), // IPv4 half outside Network: the whole lease is refused
  ]);
  const refused: string[] = [];
  const accepted: string[] = [];
  const g = new GuardedPeerSource(src, {
    self: SELF, shape: SHAPE, recheckMs: 60_000,
    onRefused: (p, r) => refused.push(`${p.subnet} ${r.reason}`),
    onAccepted: (p, was) => accepted.push(`${p.subnet} ${was.reason}`),
  });
  const snap = await g.snapshot();
  const by = new Map(snap.map((p) => [p.subnet, p]));
  assert.deepEqual([...by.keys()].sort(), ['10.5.2.0/24', '10.5.3.0/24', '10.5.4.0/24', '10.5.5.0/24', '10.5.6.0/24', '10.5.7.0/24']);
  assert.equal(by.get('10.5.2.0/24')!.subnet6, 'fc00:0:0:2::/64', 'a good IPv6 half is carried');
  for (const s of ['10.5.3.0/24', '10.5.4.0/24', '10.5.5.0/24', '10.5.6.0/24']) {
    const p = by.get(s)!;
    assert.equal(p.subnet6, undefined, s);
    assert.equal(p.publicIpv6, undefined, s);
    assert.equal(p.vtepMac6, undefined, s);
    assert.equal(p.publicIp, `192.168.64.${s.split('.')[2]}`, 'the IPv4 half stands');
  }
  assert.deepEqual(refused.sort(), ['10.5.3.0/24 overlap6', '10.5.4.0/24 public-ipv6', '10.5.5.0/24 network6', '10.5.6.0/24 vtep-mac6', '10.6.8.0/24 network']);
  assert.equal(g.refusals.overlap6, 1);
  assert.equal(g.refusals.network, 1);
  assert.equal(g.refused.length, 5);
  assert.ok(g.refused.find((r) => r.reason === 'overlap6')!.detail.startsWith('IPv6 half fc00:0:0:2::/64 refused, the IPv4 half 10.5.3.0/24 is used'));

  // The older lease goes: the IPv6 halves it blocked come in (removed + added: the peer changed).
  const batches: PeerEvent[][] = [];
  g.watch((b) => batches.push(b));
  await g.settled();
  src.emit([{ type: 'removed', peer: dual(2) }]);
  await g.settled();
  const events = batches.flat().map((e) => `${e.type} ${e.peer.subnet} ${e.peer.subnet6 ?? '-'}`);
  assert.deepEqual(events, [
    'removed 10.5.2.0/24 fc00:0:0:2::/64', 'removed 10.5.3.0/24 -', 'removed 10.5.6.0/24 -',
    'added 10.5.3.0/24 fc00:0:0:2::/64', 'added 10.5.6.0/24 fc00:0:0:6::/64',
  ]);
  assert.deepEqual(accepted, ['10.5.3.0/24 overlap6', '10.5.6.0/24 vtep-mac6']);
  await g.close();
});

// ---- the subnet file -----------------------------------------------------------------

test('subnet file: FLANNEL_IPV6_NETWORK and FLANNEL_IPV6_SUBNET as flannel writes them, read back', () => {
  const text = formatSubnetFile({ network: '10.42.0.0/16', subnet: '10.42.0.0/24', mtu: 1450, ipMasq: true, network6: '2001:cafe:42:0::/56', subnet6: '2001:cafe:42::/64' });
  // flannel's Documentation/configuration.md, "Dual-stack", line for line.
  assert.equal(text, 'FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_SUBNET=10.42.0.1/24\nFLANNEL_IPV6_NETWORK=2001:cafe:42::/56\nFLANNEL_IPV6_SUBNET=2001:cafe:42::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  const back = parseSubnetFile(text);
  assert.deepEqual([back.network6, back.subnet6, back.address6], ['2001:cafe:42::/56', '2001:cafe:42::/64', '2001:cafe:42::1/64']);
  assert.equal(back.subnet, '10.42.0.0/24');
  assert.equal(firstAddress6('fc00:0:0:34::/64'), 'fc00:0:0:34::1/64');
  // flannel reads a comma-separated list and takes the first; an unreadable line is left out.
  assert.equal(parseSubnetFile('FLANNEL_IPV6_SUBNET=fd00::1/64,fd01::1/64\n').subnet6, 'fd00::/64');
  assert.equal(parseSubnetFile('FLANNEL_IPV6_SUBNET=nope\n').subnet6, undefined);
  // IPv4 only: exactly as before.
  assert.doesNotMatch(formatSubnetFile({ network: '10.42.0.0/16', subnet: '10.42.0.0/24', mtu: 1450 }), /IPV6/);
  assert.throws(() => formatSubnetFile({ network: '10.42.0.0/16', subnet: '10.42.0.0/24', mtu: 1450, network6: 'fc00::/48', subnet6: 'fd00::/64' }), /not inside/);
  assert.throws(() => formatSubnetFile({ network: '10.42.0.0/16', subnet: '10.42.0.0/24', mtu: 1450, subnet6: 'fc00::/64' }), /together/);
});

// ---- the static peers file -----------------------------------------------------------

test('static file: self.subnet6 and peers\' subnet6 (dual-stack or IPv6-only), each problem naming its field', async () => {
  const cfg = parsePeersConfig(JSON.stringify({
    self: { subnet: '10.44.1.0/24', subnet6: 'fd00:0:0:1::/64', publicIpv6: 'fd90::1' },
    peers: [
      { subnet: '10.44.2.0/24', subnet6: 'fd00:0:0:2::/64', publicIp: '192.168.90.2', publicIpv6: 'FD90:0::2' },
      { subnet: '10.44.3.0/24', publicIp: '192.168.90.3' },
      { subnet6: 'fd00:0:0:4::/64', publicIpv6: 'fd90::4' },
    ],
  }), 'peers.json');
  assert.deepEqual(cfg.self, { subnet: '10.44.1.0/24', subnet6: 'fd00:0:0:1::/64', publicIpv6: 'fd90::1' });
  assert.deepEqual(cfg.peers[0], {
    subnet: '10.44.2.0/24', publicIp: '192.168.90.2', vtepMac: macFromIp('192.168.90.2'),
    subnet6: 'fd00:0:0:2::/64', publicIpv6: 'fd90::2', vtepMac6: macFromIp('192.168.90.2'),
  });
  assert.deepEqual(cfg.peers[1], { subnet: '10.44.3.0/24', publicIp: '192.168.90.3', vtepMac: macFromIp('192.168.90.3') });
  assert.deepEqual(cfg.ipv6OnlyPeers, [{ subnet6: 'fd00:0:0:4::/64', publicIpv6: 'fd90::4' }]);
  // An IPv6-only self parses (the node refuses to run it yet: static-network.ts).
  assert.deepEqual(parsePeersConfig('{"self":{"subnet6":"fd00:0:0:1::/64"},"peers":[]}', 'p.json').self, { subnet6: 'fd00:0:0:1::/64' });

  const bad: [unknown, string][] = [
    [{ self: { subnet6: 'fd00::1/64' }, peers: [] }, 'self.subnet6'],
    [{ self: { subnet6: 'fd00::/8' }, peers: [] }, 'self.subnet6'],
    [{ self: { subnet6: 7 }, peers: [] }, 'self.subnet6'],
    [{ self: {}, peers: [] }, 'self.subnet'],
    [{ self: { subnet: '10.44.1.0/24', publicIpv6: 'fe80::1' }, peers: [] }, 'self.publicIpv6'],
    [{ self: { subnet: '10.44.1.0/24', subnet6: 'fd00:0:0:1::/64' }, peers: [{ subnet: '10.44.2.0/24', publicIp: '192.168.90.2', subnet6: 'fd00:0:0:1::/64' }] }, 'peers[0].subnet6'],
    [{ self: { subnet: '10.44.1.0/24' }, peers: [{ subnet: '10.44.2.0/24', publicIp: '192.168.90.2', publicIpv6: 'fd90::2' }] }, 'peers[0].publicIpv6'],
    [{ self: { subnet: '10.44.1.0/24' }, peers: [{ subnet6: 'fd00:0:0:2::/64', publicIpv6: 'nope' }] }, 'peers[0].publicIpv6'],
    [{ self: { subnet: '10.44.1.0/24', publicIpv6: 'fd90::1' }, peers: [{ subnet6: 'fd00:0:0:2::/64', publicIpv6: 'fd90::1' }] }, 'peers[0].publicIpv6'],
    [{ self: { subnet: '10.44.1.0/24' }, peers: [{ subnet6: 'fd00:0:0:2::/64', publicIp: '192.168.90.2' }] }, 'peers[0].publicIp'],
    [{ self: { subnet: '10.44.1.0/24' }, peers: [{ publicIp: '192.168.90.2' }] }, 'peers[0].subnet'],
    [{ self: { subnet: '10.44.1.0/24' }, peers: [{ subnet: '10.44.2.0/24', publicIp: '192.168.90.2', subnet_6: 'fd00::/64' }] }, 'peers[0].subnet_6'],
  ];
  for (const [doc, field] of bad) {
    assert.throws(() => parsePeersConfig(JSON.stringify(doc), 'peers.json'), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.field, field, err.message);
      assert.ok(err.message.startsWith(`peers.json: ${field}: `), err.message);
      return true;
    }, JSON.stringify(doc));
  }

  // Through the guard with no network known (a static file): the IPv6 half of a dual-stack peer is carried.
  const src = new FakeSource(cfg.peers);
  const g = new GuardedPeerSource(src, { self: selfOf('10.44.1.0/24', '192.168.90.1', macFromIp('192.168.90.1'), { subnet6: 'fd00:0:0:1::/64' }), shape: null });
  const snap = await g.snapshot();
  assert.equal(snap.find((p) => p.subnet === '10.44.2.0/24')!.subnet6, 'fd00:0:0:2::/64');
  assert.deepEqual(g.refused, []);
  await g.close();
});
