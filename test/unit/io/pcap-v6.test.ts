/**
 * --pcap over an IPv6 underlay (issue #13): the recorder rebuilds received
 * and sent VXLAN datagrams as Ethernet / IPv6 / UDP (wire/underlay.ts
 * emitOuter6), checksum included, and tshark dissects them down to the
 * inner frame with the checksum verified.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDatagramPort, MemoryFramePort } from '../../../src/io/fake';
import { PcapDatagramPort, PcapFramePort, PcapRecorder, socketDescription } from '../../../src/io/pcap-port';
import { vtepKey } from '../../../src/io/vtep-key';
import { Switch } from '../../../src/switch/switch';
import { macKeyFromString } from '../../../src/wire/addr';
import { ipv4Frame } from '../../helpers/frames';
import { needCommand } from '../../helpers/netns';

const LOCAL_MAC = '02:00:00:00:01:01';
const REMOTE_MAC = '02:00:00:00:02:02';
const LOCAL_IP = 'fd00:91::1';
const PEER_IP = 'fd00:91::2';
const VNI = 42;

test('pcap over IPv6: the decap and the encap are rebuilt as IPv6 + UDP with a correct checksum, and tshark reads the inner frame', (t) => {
  // Under CI=true a missing tshark fails the test (needCommand); elsewhere it skips with the apt-get line.
  if (!needCommand(t, 'tshark', 'tshark')) return;
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-pcap6-'));
  try {
    const path = join(dir, 'v6.pcapng');
    const rec = PcapRecorder.open(path, { tapName: 'vx0', underlay: { name: 'eth0', localMac: null, ttl: 64, df: false, description: socketDescription(vtepKey(LOCAL_IP), 4789) } });
    const tap = new MemoryFramePort('vx0');
    const net = new MemoryDatagramPort({ writesUdpHeader: true });
    const sw = new Switch({
      vni: VNI, tap: new PcapFramePort(tap, rec), net: new PcapDatagramPort(net, rec, { localIp: LOCAL_IP, localPort: 4789 }),
      mtu: 1430, batchSize: 32, mode: 'l2', l2: { port: 4789 },
    });
    sw.floodList.add(vtepKey(PEER_IP), 4789);
    sw.start();
    const vxlan = Buffer.concat([Buffer.from([0x08, 0, 0, 0, 0, 0, VNI, 0]), ipv4Frame(LOCAL_MAC, REMOTE_MAC, '10.0.0.2', '10.0.0.1', 17, 2000, 1000)]);
    net.inject([{ data: vxlan, addr: PEER_IP, port: 50123 }]);
    tap.inject([ipv4Frame(REMOTE_MAC, LOCAL_MAC, '10.0.0.1', '10.0.0.2', 17, 1000, 2000)]);
    assert.equal(sw.fdb.describe(sw.fdb.lookup(macKeyFromString(REMOTE_MAC))!).vtep, PEER_IP);
    rec.close();
    const out = execFileSync('tshark', ['-n', '-r', path, '-o', 'udp.check_checksum:TRUE', '-d', 'udp.port==4789,vxlan', '-Y', 'vxlan', '-T', 'fields',
      '-E', 'separator=|', '-E', 'occurrence=f', '-e', 'ipv6.src', '-e', 'ipv6.dst', '-e', 'udp.checksum.status', '-e', 'vxlan.vni', '-e', 'ip.src'], { encoding: 'utf8' });
    const rows = out.trim().split('\n').map((l) => l.split('|'));
    assert.deepEqual(rows, [
      [PEER_IP, LOCAL_IP, '1', String(VNI), '10.0.0.2'],
      [LOCAL_IP, PEER_IP, '1', String(VNI), '10.0.0.1'],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
