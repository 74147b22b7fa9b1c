/**
 * BatchUdpPort over IPv6 (AF_INET6 sockets, IPV6_V6ONLY), in network
 * namespaces (Lab prefix vxt-udp6-): with and without offloads, the sender
 * of each datagram as an AF_INET6 record read back to its VTEP key, and the
 * kernel's drop of a zero UDP checksum. The scenarios live in
 * test/io/child-udp6.ts.
 */
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { Lab, needNamespaces } from '../helpers/netns';
import { runChild } from './child';

const lab = new Lab('vxt-udp6-');
after(() => lab.cleanup());

const CHILD = path.join(__dirname, 'child-udp6.js');
const AF_INET6 = 10;

function udp6(host: string, ...args: string[]): Record<string, unknown> {
  const r = runChild(lab, host, ['node', CHILD, ...args]);
  assert.equal(r.status, 0, `child ${args.join(' ')} failed (status ${r.status}): ${r.stderr}`);
  return r.result;
}

type Got = { size: number; family: number; key: string; port: number; k: number; intact: boolean };

for (const mode of ['offload', 'plain'] as const) {
  test(`udp6 ${mode}: 40 datagrams over ::1 arrive intact, each sender an AF_INET6 record whose key is ::1`, (t) => {
    if (!needNamespaces(t)) return;
    const host = `x6-${mode}`;
    lab.addNs(host);
    const r = udp6(host, 'exchange', mode);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.sent, 40);
    const got = (r.got as Got[]).sort((a, b) => a.k - b.k);
    assert.equal(got.length, 40);
    const min = (r.srcPorts as { min: number }).min;
    got.forEach((g, k) => {
      assert.equal(g.k, k);
      assert.equal(g.size, k < 20 ? 1000 : 50 + k * 20, `datagram ${k} size`);
      assert.equal(g.family, AF_INET6, `datagram ${k}: an AF_INET6 sender record`);
      assert.equal(g.key, '::1', `datagram ${k}: the sender's VTEP key`);
      assert.equal(g.port, min, `datagram ${k}: sent from the pool socket of its source port`);
      assert.equal(g.intact, true, `datagram ${k} bytes`);
    });
    assert.deepEqual(r.stats, { rxTruncated: 0, rxErrors: 0, txSkipped: 0 });
    const off = r.offload as { gso: { enabled: boolean; reason: string }; gro: { enabled: boolean; reason: string } };
    if (mode === 'offload') {
      // UDP_SEGMENT and UDP_GRO are taken on AF_INET6 sockets too (kernel 4.18 / 5.0 and later).
      assert.equal(off.gso.enabled, true, off.gso.reason);
      assert.equal(off.gro.enabled, true, off.gro.reason);
      const gso = r.gsoA as { messages: number; datagrams: number } | null;
      assert.ok(gso !== null && gso.messages >= 1 && gso.datagrams >= 20, `the 20 equal datagrams left as GSO messages: ${JSON.stringify(gso)}`);
    } else {
      assert.equal(off.gso.enabled, false);
      assert.equal(off.gro.enabled, false);
    }
  });
}

test('udp6: a datagram with a zero UDP checksum is dropped by the kernel (UDP_NO_CHECK6_RX off) and counted there; a checksummed one arrives', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('zc');
  const r = udp6('zc', 'zero-csum');
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal((r.zero as { checksum: number }).checksum, 0);
  assert.notEqual((r.good as { checksum: number }).checksum, 0);
  assert.deepEqual(r.got, ['good-checksum'], 'only the checksummed datagram reached the port');
  assert.equal(r.csumErrors, 1, 'Udp6InCsumErrors counted the zero checksum');
  assert.equal(r.rxErrors, 0);
});

test('udp6: bind and source addresses of different families are refused', (t) => {
  if (!needNamespaces(t)) return;
  lab.addNs('mx');
  const r = udp6('mx', 'mixed');
  assert.notEqual(r.ok, true);
  assert.match(String(r.message), /not one family/);
});
