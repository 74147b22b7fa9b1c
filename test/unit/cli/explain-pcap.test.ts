import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pcapFrame } from '../../../src/cli/explain-cmd';
import { enhancedPacket, interfaceDescription, sectionHeader } from '../../../src/io/pcapng';
import { LINKTYPE_ETHERNET } from '../../../src/io/pcap';

// An Ethernet/IPv4/UDP frame whose UDP payload is 8 VXLAN bytes and 4 more.
function vxlanFrame(): Buffer {
  const f = Buffer.alloc(14 + 20 + 8 + 12);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f[14 + 9] = 17;
  f.writeUInt16BE(4789, 14 + 20 + 2);
  Buffer.from('0800000000000100deadbeef', 'hex').copy(f, 42);
  return f;
}

test('explain --pcap reads vxtap\'s own pcapng captures: side tap is the frame, side net the UDP payload; errors name the problem', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vxt-explain-pcap-'));
  try {
    const file = join(dir, 'cap.pcapng');
    const tapFrame = Buffer.from('ffffffffffff0276c0a85d0108060001', 'hex');
    writeFileSync(file, Buffer.concat([
      sectionHeader(),
      interfaceDescription({ linktype: LINKTYPE_ETHERNET, snaplen: 65535, name: 'vxtap.1' }),
      interfaceDescription({ linktype: LINKTYPE_ETHERNET, snaplen: 65535, name: 'eth0' }),
      enhancedPacket(0, 1, tapFrame),
      enhancedPacket(1, 2, vxlanFrame()),
    ]));
    assert.deepEqual(pcapFrame(file, 0, 'tap'), tapFrame);
    assert.equal(pcapFrame(file, 1, 'net').toString('hex'), '0800000000000100deadbeef');
    assert.throws(() => pcapFrame(file, 0, 'net'), /packet 0 is not IPv4\/UDP/);
    assert.throws(() => pcapFrame(file, 2, 'tap'), /no packet 2 \(the file has 2\)/);
    writeFileSync(join(dir, 'junk'), 'not a capture at all, just some text');
    assert.throws(() => pcapFrame(join(dir, 'junk'), 0, 'tap'), /--pcap .*junk/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
