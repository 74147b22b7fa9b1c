import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseFormatError } from '../../../src/control/etcd/errors';
import { decodeLease, encodeLease, leaseToPeer } from '../../../src/control/etcd/lease-codec';

// flannel's vxlan backend writes exactly this (lease.LeaseAttrs marshalled by Go).
const FLANNEL = '{"PublicIP":"192.168.90.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"aa:bb:cc:dd:ee:ff"}}';
const KEY = '/coreos.com/network/subnets/10.44.3.0-24';

test('lease: encode writes flannel\'s JSON byte for byte', () => {
  assert.equal(encodeLease({ publicIp: '192.168.90.1', vtepMac: 'AA:BB:CC:DD:EE:FF', vni: 1 }), FLANNEL);
});

test('lease: decode flannel\'s JSON; the subnet comes from the key', () => {
  assert.deepEqual(decodeLease(KEY, FLANNEL), {
    subnet: '10.44.3.0/24', publicIp: '192.168.90.1', backendType: 'vxlan', vtepMac: 'aa:bb:cc:dd:ee:ff', vni: 1,
  });
  assert.deepEqual(decodeLease('10.44.3.0-24', Buffer.from(FLANNEL)).subnet, '10.44.3.0/24');
  assert.deepEqual(leaseToPeer(decodeLease(KEY, FLANNEL)), { subnet: '10.44.3.0/24', publicIp: '192.168.90.1', vtepMac: 'aa:bb:cc:dd:ee:ff' });
});

test('lease: round trip', () => {
  const attrs = { publicIp: '10.1.2.3', vtepMac: '02:76:0a:01:02:03', vni: 4096 };
  const l = decodeLease('10.44.9.0-24', encodeLease(attrs));
  assert.deepEqual({ publicIp: l.publicIp, vtepMac: l.vtepMac, vni: l.vni }, attrs);
});

test('lease: another backend decodes but is no peer; extra fields and any case are fine', () => {
  const hostgw = decodeLease(KEY, '{"PublicIP":"192.168.90.7","BackendType":"host-gw"}');
  assert.equal(hostgw.backendType, 'host-gw');
  assert.equal(hostgw.vtepMac, null);
  assert.equal(leaseToPeer(hostgw), null);
  const none = decodeLease(KEY, '{"PublicIP":"192.168.90.7"}');
  assert.equal(none.backendType, '');
  assert.equal(leaseToPeer(none), null);
  const odd = decodeLease(KEY, '{"publicip":"192.168.90.8","backendtype":"vxlan","backenddata":{"vtepmac":"02:00:00:00:00:01"},"BackendV6Data":null,"X":[1]}');
  assert.equal(odd.vtepMac, '02:00:00:00:00:01');
  assert.equal(odd.vni, null, 'no VNI in the lease');
});

test('lease: malformed values are LeaseFormatError naming the key and the field', () => {
  const bad: [string, string, RegExp][] = [
    [KEY, 'nope', /not JSON/],
    [KEY, '[1]', /JSON object/],
    [KEY, '{"BackendType":"vxlan"}', /PublicIP/],
    [KEY, '{"PublicIP":"1.2.3","BackendType":"vxlan"}', /PublicIP/],
    [KEY, '{"PublicIP":"224.0.0.1","BackendType":"vxlan"}', /unicast/],
    [KEY, '{"PublicIP":"192.168.90.1","BackendType":"vxlan"}', /BackendData/],
    [KEY, '{"PublicIP":"192.168.90.1","BackendType":"vxlan","BackendData":{"VtepMAC":"zz"}}', /VtepMAC/],
    [KEY, '{"PublicIP":"192.168.90.1","BackendType":"vxlan","BackendData":{"VtepMAC":"01:00:5e:00:00:01"}}', /multicast/],
    [KEY, '{"PublicIP":"192.168.90.1","BackendType":"vxlan","BackendData":{"VtepMAC":"02:00:00:00:00:01","VNI":"1"}}', /VNI/],
    [KEY, '{"PublicIP":"192.168.90.1","BackendType":7}', /BackendType/],
    ['/coreos.com/network/subnets/garbage', FLANNEL, /subnet key/],
  ];
  for (const [key, value, re] of bad) {
    assert.throws(() => decodeLease(key, value), (err: unknown) => {
      assert.ok(err instanceof LeaseFormatError, String(err));
      assert.equal(err.code, 'VXTAP_ERR_LEASE_FORMAT');
      assert.match(err.message, re);
      assert.ok(err.message.startsWith(key), err.message);
      return true;
    }, value);
  }
});

test('lease: encode refuses what it cannot write', () => {
  assert.throws(() => encodeLease({ publicIp: 'x', vtepMac: '02:00:00:00:00:01', vni: 1 }), TypeError);
  assert.throws(() => encodeLease({ publicIp: '10.0.0.1', vtepMac: 'x', vni: 1 }), TypeError);
  assert.throws(() => encodeLease({ publicIp: '10.0.0.1', vtepMac: '02:00:00:00:00:01', vni: 2 ** 24 }), TypeError);
});
