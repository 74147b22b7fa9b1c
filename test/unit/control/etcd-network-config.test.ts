import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors';
import { formatCidr, formatIpv4, parseCidr } from '../../../src/wire/addr';
import {
  buildConfig, candidateSubnets, describeConfig, fitsConfig, formatConfig, KERNEL_DEFAULT_PORT, parseNetworkConfig,
  parseSubnetKey, subnetCount, subnetKey, type NetworkConfig,
} from '../../../src/control/etcd/network-config';

const FULL = '{"Network":"10.44.0.0/16","SubnetLen":24,"SubnetMin":"10.44.1.0","SubnetMax":"10.44.254.0","Backend":{"Type":"vxlan","VNI":1,"Port":4789}}';

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'VXTAP_ERR_CONFIG');
    return err.field;
  }
  assert.fail('expected a ConfigError');
}

function show(c: NetworkConfig): { net: string; len: number; min: string; max: string } {
  return { net: formatCidr(c.network), len: c.subnetLen, min: formatIpv4(c.subnetMin), max: formatIpv4(c.subnetMax) };
}

test('config: the full example parses as written', () => {
  const c = parseNetworkConfig(FULL);
  assert.deepEqual(show(c), { net: '10.44.0.0/16', len: 24, min: '10.44.1.0', max: '10.44.254.0' });
  assert.deepEqual(c.backend, { type: 'vxlan', vni: 1, port: 4789 });
  assert.equal(c.portDefaulted, false);
  assert.deepEqual(c.warnings, []);
});

test('config: defaults as flannel: SubnetLen 24 for a /22 or larger, Min = second subnet, Max = last', () => {
  assert.deepEqual(show(parseNetworkConfig('{"Network":"10.44.0.0/16","Backend":{"Type":"vxlan"}}')),
    { net: '10.44.0.0/16', len: 24, min: '10.44.1.0', max: '10.44.255.0' });
  assert.deepEqual(show(parseNetworkConfig('{"Network":"10.0.0.0/8","Backend":{"Type":"vxlan"}}')),
    { net: '10.0.0.0/8', len: 24, min: '10.0.1.0', max: '10.255.255.0' });
  assert.deepEqual(show(parseNetworkConfig('{"Network":"10.44.0.0/22","Backend":{"Type":"vxlan"}}')),
    { net: '10.44.0.0/22', len: 24, min: '10.44.1.0', max: '10.44.3.0' });
});

test('config: defaults as flannel: a network smaller than /22 gets prefix + 2', () => {
  assert.deepEqual(show(parseNetworkConfig('{"Network":"10.44.0.0/23","Backend":{"Type":"vxlan"}}')),
    { net: '10.44.0.0/23', len: 25, min: '10.44.0.128', max: '10.44.1.128' });
  assert.deepEqual(show(parseNetworkConfig('{"Network":"192.168.7.0/28","Backend":{"Type":"vxlan"}}')),
    { net: '192.168.7.0/28', len: 30, min: '192.168.7.4', max: '192.168.7.12' });
});

test('config: VNI defaults to 1; an absent Port is 8472 (the kernel default flannel hosts use), with a warning', () => {
  const c = parseNetworkConfig('{"Network":"10.44.0.0/16","Backend":{"Type":"vxlan"}}');
  assert.equal(c.backend.vni, 1);
  assert.equal(c.backend.port, KERNEL_DEFAULT_PORT);
  assert.equal(c.portDefaulted, true);
  assert.match(c.warnings.join('\n'), /8472/);
  const zero = parseNetworkConfig('{"Network":"10.44.0.0/16","Backend":{"Type":"vxlan","Port":0}}');
  assert.equal(zero.portDefaulted, true);
});

test('config: field names match without regard to case (as Go reads them); unknown fields are ignored', () => {
  const c = parseNetworkConfig('{"network":"10.44.0.0/16","subnetlen":26,"backend":{"type":"vxlan","vni":7,"port":4789,"MTU":1400},"Whatever":1}');
  assert.equal(c.subnetLen, 26);
  assert.equal(c.backend.vni, 7);
});

test('config: errors name the field', () => {
  const cases: [string, string | undefined][] = [
    ['not json', undefined],
    ['[]', undefined],
    ['{"Backend":{"Type":"vxlan"}}', 'Network'],
    ['{"Network":"10.44.0.0","Backend":{"Type":"vxlan"}}', 'Network'],
    ['{"Network":"10.44.0.300/16","Backend":{"Type":"vxlan"}}', 'Network'],
    ['{"Network":"10.44.0.0/29","Backend":{"Type":"vxlan"}}', 'Network'],
    ['{"Network":"10.44.0.0/16","SubnetLen":31,"Backend":{"Type":"vxlan"}}', 'SubnetLen'],
    ['{"Network":"10.44.0.0/16","SubnetLen":17,"Backend":{"Type":"vxlan"}}', 'SubnetLen'],
    ['{"Network":"10.44.0.0/16","SubnetLen":"24","Backend":{"Type":"vxlan"}}', 'SubnetLen'],
    ['{"Network":"10.44.0.0/16","SubnetMin":"10.45.1.0","Backend":{"Type":"vxlan"}}', 'SubnetMin'],
    ['{"Network":"10.44.0.0/16","SubnetMax":"10.43.1.0","Backend":{"Type":"vxlan"}}', 'SubnetMax'],
    ['{"Network":"10.44.0.0/16","SubnetMin":"10.44.1.5","Backend":{"Type":"vxlan"}}', 'SubnetMin'],
    ['{"Network":"10.44.0.0/16","SubnetMin":"10.44.9.0","SubnetMax":"10.44.3.0","Backend":{"Type":"vxlan"}}', 'SubnetMin'],
    ['{"Network":"10.44.0.0/16"}', 'Backend.Type'],
    ['{"Network":"10.44.0.0/16","Backend":{"Type":"host-gw"}}', 'Backend.Type'],
    ['{"Network":"10.44.0.0/16","Backend":{"Type":"VXLAN"}}', 'Backend.Type'],
    ['{"Network":"10.44.0.0/16","Backend":"vxlan"}', 'Backend'],
    ['{"Network":"10.44.0.0/16","Backend":{"Type":"vxlan","VNI":16777216}}', 'Backend.VNI'],
    ['{"Network":"10.44.0.0/16","Backend":{"Type":"vxlan","Port":70000}}', 'Backend.Port'],
    ['{"Network":"10.44.0.0/16","EnableIPv4":false,"Backend":{"Type":"vxlan"}}', 'EnableIPv4'],
  ];
  for (const [text, field] of cases) {
    assert.equal(fieldOf(() => parseNetworkConfig(text)), field, text);
  }
});

test('config: a Network with host bits is masked, as flannel does, with a warning', () => {
  const c = parseNetworkConfig('{"Network":"10.44.3.7/16","Backend":{"Type":"vxlan"}}');
  assert.equal(formatCidr(c.network), '10.44.0.0/16');
  assert.match(c.warnings.join('\n'), /host bits/);
});

test('config: buildConfig + formatConfig round-trip, every field written out', () => {
  const c = buildConfig({ network: '10.44.0.0/16' });
  const text = formatConfig(c);
  assert.equal(text, FULL.replace('10.44.254.0', '10.44.255.0'));
  assert.deepEqual(parseNetworkConfig(text), c);
  const d = buildConfig({ network: '10.50.0.0/16', subnetLen: 26, subnetMin: '10.50.0.64', subnetMax: '10.50.0.192', vni: 9, port: 8472 });
  assert.deepEqual(show(d), { net: '10.50.0.0/16', len: 26, min: '10.50.0.64', max: '10.50.0.192' });
  assert.deepEqual(parseNetworkConfig(formatConfig(d)), d);
  assert.equal(fieldOf(() => buildConfig({ network: '10.44.0.0/16', subnetLen: 40 })), 'SubnetLen');
});

test('config: formatConfig leaves a defaulted port out, as it was', () => {
  const c = parseNetworkConfig('{"Network":"10.44.0.0/16","Backend":{"Type":"vxlan"}}');
  assert.doesNotMatch(formatConfig(c), /Port/);
});

test('config: describeConfig for display', () => {
  assert.deepEqual(describeConfig(parseNetworkConfig(FULL)), {
    Network: '10.44.0.0/16', SubnetLen: 24, SubnetMin: '10.44.1.0', SubnetMax: '10.44.254.0', Subnets: 254, VNI: 1, Port: 4789,
  });
});

test('subnet keys: 10.44.3.0/24 <-> 10.44.3.0-24', () => {
  assert.equal(subnetKey('10.44.3.0/24'), '10.44.3.0-24');
  assert.equal(subnetKey(parseCidr('10.44.3.64/26')), '10.44.3.64-26');
  assert.deepEqual(parseSubnetKey('10.44.3.0-24'), parseCidr('10.44.3.0/24'));
  assert.deepEqual(parseSubnetKey('/coreos.com/network/subnets/10.44.3.0-24'), parseCidr('10.44.3.0/24'));
  // A dual-stack key gives its IPv4 part.
  assert.deepEqual(parseSubnetKey('10.44.3.0-24&fc00::-64'), parseCidr('10.44.3.0/24'));
  for (const bad of ['10.44.3.0', '10.44.3.0-33', '10.44.3.5-24', '10.44.300.0-24', 'config', '10.44.3.0-24x', '']) {
    assert.equal(parseSubnetKey(bad), null, bad);
  }
});

test('subnets: candidates run from SubnetMin to SubnetMax; fitsConfig checks length and bounds', () => {
  const c = parseNetworkConfig('{"Network":"10.44.0.0/24","SubnetLen":26,"Backend":{"Type":"vxlan"}}');
  assert.equal(subnetCount(c), 3);
  assert.deepEqual([...candidateSubnets(c)].map(formatCidr), ['10.44.0.64/26', '10.44.0.128/26', '10.44.0.192/26']);
  assert.equal(fitsConfig(c, parseCidr('10.44.0.64/26')), true);
  assert.equal(fitsConfig(c, parseCidr('10.44.0.0/26')), false, 'the first subnet is skipped');
  assert.equal(fitsConfig(c, parseCidr('10.44.0.64/27')), false, 'wrong length');
  assert.equal(fitsConfig(c, parseCidr('10.45.0.64/26')), false, 'outside');
  const big = parseNetworkConfig('{"Network":"10.0.0.0/8","SubnetLen":30,"Backend":{"Type":"vxlan"}}');
  assert.equal(subnetCount(big), 2 ** 22 - 1);
  const it = candidateSubnets(big);
  assert.equal(formatCidr(it.next().value as { addr: number; len: number }), '10.0.0.4/30');
});
