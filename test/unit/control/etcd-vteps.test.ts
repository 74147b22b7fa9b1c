/** The L2 VTEP keys and values in etcd (etcd/vteps.ts): layout, round trip, and each malformed value by its message. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeVtep, encodeVtep, vtepsPrefix } from '../../../src/control/etcd/vteps';
import { VtepRegistration } from '../../../src/control/etcd/vtep-registration';
import { VtepFormatError } from '../../../src/control/etcd/errors';
import type { Etcd3 } from 'etcd3';

const P = '/coreos.com/network/l2/42/vteps/';
const K = `${P}192.168.90.2`;

function bad(value: string, message: RegExp | string, key = K): void {
  assert.throws(() => decodeVtep(key, value), (err: unknown) => {
    assert.ok(err instanceof VtepFormatError, String(err));
    assert.equal(err.code, 'VXTAP_ERR_VTEP_FORMAT');
    assert.equal(err.key, key);
    if (typeof message === 'string') assert.equal(err.message, `${key}: ${message}`);
    else assert.match(err.message, message);
    return true;
  });
}

test('layout: <prefix>/l2/<vni>/vteps/<ip>, a trailing slash on the prefix is dropped', () => {
  assert.equal(vtepsPrefix('/coreos.com/network', 42), P);
  assert.equal(vtepsPrefix('/coreos.com/network/', 42), P);
});

test('the value is flannel-style JSON and round-trips', () => {
  const text = encodeVtep({ publicIp: '192.168.90.2', port: 4789, vtepMac: '02:00:00:00:00:02' });
  assert.equal(text, '{"PublicIP":"192.168.90.2","Port":4789,"VtepMAC":"02:00:00:00:00:02"}');
  assert.deepEqual(decodeVtep(K, text), { publicIp: '192.168.90.2', port: 4789, vtepMac: '02:00:00:00:00:02', macs: [] });
  const withMacs = encodeVtep({ publicIp: '192.168.90.2', port: 8472, vtepMac: null, macs: ['aa:bb:cc:00:00:01'] });
  assert.deepEqual(decodeVtep(K, withMacs), { publicIp: '192.168.90.2', port: 8472, vtepMac: null, macs: ['aa:bb:cc:00:00:01'] });
});

test('lenient where harmless: no VtepMAC, upper-case MACs, repeated MACs, unknown fields', () => {
  assert.deepEqual(decodeVtep(K, '{"PublicIP":"192.168.90.2","Port":4789,"VtepMAC":"02:AA:00:00:00:02","MACs":["AA:BB:CC:00:00:01","aa:bb:cc:00:00:01"],"Extra":1}'),
    { publicIp: '192.168.90.2', port: 4789, vtepMac: '02:aa:00:00:00:02', macs: ['aa:bb:cc:00:00:01'] });
});

test('each malformed value says what is wrong', () => {
  bad('{', /^\/coreos\.com\/network\/l2\/42\/vteps\/192\.168\.90\.2: not JSON: /);
  bad('"x"', 'not a JSON object');
  bad('null', 'not a JSON object');
  bad('{"Port":4789}', 'PublicIP: missing or not a string: undefined');
  bad('{"PublicIP":"192.168.90.3","Port":4789}', 'PublicIP 192.168.90.3 does not match the key (a host registers under its own address)');
  bad('{"PublicIP":"224.0.0.1","Port":4789}', /PublicIP: "224\.0\.0\.1" is a multicast address/, `${P}224.0.0.1`);
  bad('{"PublicIP":"192.168.90.2"}', 'Port: not in 1..65535: undefined');
  bad('{"PublicIP":"192.168.90.2","Port":"4789"}', 'Port: not in 1..65535: "4789"');
  bad('{"PublicIP":"192.168.90.2","Port":4789,"VtepMAC":"00:00:00:00:00:00"}', /VtepMAC: "00:00:00:00:00:00" is the all-zero MAC/);
  bad('{"PublicIP":"192.168.90.2","Port":4789,"VtepMAC":7}', 'VtepMAC: not a MAC address: 7');
  bad('{"PublicIP":"192.168.90.2","Port":4789,"MACs":"aa:bb:cc:00:00:01"}', 'MACs: not an array: "aa:bb:cc:00:00:01"');
  bad('{"PublicIP":"192.168.90.2","Port":4789,"MACs":[1]}', 'MACs: 1 is not a string');
});

test('VtepRegistration refuses a TTL that is not a positive integer', () => {
  const fake = {} as Etcd3; // never called: the check comes first
  assert.throws(() => new VtepRegistration(fake, { key: K, value: '{}', ttlSeconds: 0 }), /ttlSeconds must be a positive integer, got 0/);
  assert.throws(() => new VtepRegistration(fake, { key: K, value: '{}', ttlSeconds: 2.5 }), /got 2\.5/);
});
