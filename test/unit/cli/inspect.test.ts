/** The terminal output of `vxtap fdb|arp|peers|stats`: the same facts as --json, for people. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAge, formatArp, formatFdb, formatPeers, formatStats } from '../../../src/cli/inspect-cmd';
import { Counters, DropReason } from '../../../src/switch/counters';

test('fdb, arp and peers tables', () => {
  assert.equal(formatFdb([{ mac: '02:76:c0:a8:5a:02', vtep: '192.168.90.2', port: 4789, kind: 'static', ageSeconds: 75 }]),
    'MAC                VTEP          PORT  KIND    AGE\n' +
    '02:76:c0:a8:5a:02  192.168.90.2  4789  static  1m15s\n');
  assert.equal(formatArp([{ ip: '10.44.2.0', mac: '02:76:c0:a8:5a:02', subnet: '10.44.2.0/24', publicIp: '192.168.90.2' }, { ip: '10.44.9.9', mac: '02:00:00:00:00:09', subnet: null, publicIp: null }]),
    'IP         MAC                LEASE         HOST\n' +
    '10.44.2.0  02:76:c0:a8:5a:02  10.44.2.0/24  192.168.90.2\n' +
    '10.44.9.9  02:00:00:00:00:09  -             -\n');
  assert.equal(formatPeers([
    { subnet: '10.44.2.0/24', publicIp: '192.168.90.2', vtepMac: '02:76:c0:a8:5a:02', route: '10.44.2.0/24 via 10.44.2.0 dev vxtap.42 onlink', error: null },
    { subnet: '10.44.5.0/24', publicIp: null, vtepMac: null, route: null, error: 'Network unreachable' },
  ]),
  'SUBNET        PUBLIC IP     VTEP MAC           ROUTE\n' +
    '10.44.2.0/24  192.168.90.2  02:76:c0:a8:5a:02  10.44.2.0/24 via 10.44.2.0 dev vxtap.42 onlink\n' +
    '10.44.5.0/24  -             -                  not installed: Network unreachable\n');
  assert.equal(formatFdb([]), 'MAC  VTEP  PORT  KIND  AGE\n', 'an empty table is its header');
});

test('stats: who, traffic, every drop reason, ports', () => {
  const c = new Counters();
  c.encapFrames = 12; c.encapBytes = 1176; c.decapFrames = 11; c.decapBytes = 1078; c.arpAnswered = 2;
  c.drop(DropReason.VXLAN_UNKNOWN_VNI);
  c.drop(DropReason.FLOOD, 3);
  const out = formatStats({
    tap: 'vxtap.42', vni: 42, port: 4789, subnet: '10.44.1.0/24', publicIp: '192.168.90.1', vtepMac: '02:76:c0:a8:5a:01', io: 'batch',
    pid: 311, uptimeSeconds: 125, counters: c.snapshot(),
    ports: { tap: { rxTruncated: 0, lastTxError: null }, udp: null }, tables: { fdb: 1, arp: 1, peers: 1 },
    routes: { protocol: 118, conflicts: 2, failedPeers: 1 },
    offloads: {
      tap: { enabled: true, reason: 'on: TUN_F_CSUM|TUN_F_TSO4|TUN_F_TSO6' },
      udp: { gso: { enabled: true, reason: 'on' }, gro: { enabled: false, reason: 'UDP_GRO: ENOPROTOOPT' }, sourcePorts: { min: 49280, count: 64 } },
    },
  });
  assert.match(out, /\n {2}offloads: TAP on \(TUN_F_CSUM\|TUN_F_TSO4\|TUN_F_TSO6\), UDP GSO on \(source ports 49280-49343\), UDP GRO off \(UDP_GRO: ENOPROTOOPT\)\n/);
  assert.match(out, /^vxtap\.42 {2}VNI 42 {2}UDP port 4789 {2}io batch {2}pid 311 {2}up 2m05s\n/);
  assert.match(out, /subnet 10\.44\.1\.0\/24 {2}public IP 192\.168\.90\.1 {2}VTEP MAC 02:76:c0:a8:5a:01/);
  assert.match(out, /1 peer, 1 FDB entry, 1 ARP entry/);
  assert.match(out, /\n {2}routes: proto 118, 2 route conflicts, 1 peer not installed\n/);
  assert.match(out, /encap TAP -> VXLAN +12 +1176/);
  assert.match(out, /decap VXLAN -> TAP +11 +1078/);
  assert.match(out, /ARP answered +2/);
  assert.match(out, /drops \(total 4\)/);
  assert.match(out, /\n {2}vxlan-unknown-vni +1\n/);
  assert.match(out, /\n {2}flood +3\n/);
  assert.match(out, /\n {2}tap-write +0\n/, 'every reason is listed, zeros too');
  assert.match(out, /TAP vxtap\.42 +rxTruncated 0 {2}lastTxError -/);
  assert.doesNotMatch(out, /UDP 4789 /, 'a port without stats is left out');
});

test('ages', () => {
  assert.deepEqual([0, 59, 60, 3599, 3600, 86399, 90000].map(formatAge), ['0s', '59s', '1m00s', '59m59s', '1h00m', '23h59m', '1d01h']);
});
