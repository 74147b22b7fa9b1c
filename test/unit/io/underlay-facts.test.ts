/**
 * io/underlay-facts.ts: the interface's MAC and the default TTL as the
 * kernel exposes them, and what is used when they cannot be read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LINUX_DEFAULT_TTL, defaultTtl, interfaceMac, localUnderlayFacts } from '../../../src/io/underlay-facts';

test('the MAC from <sys>/<if>/address and the TTL from the sysctl file; fallbacks when absent or malformed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-facts-'));
  try {
    mkdirSync(join(dir, 'eth0'));
    writeFileSync(join(dir, 'eth0', 'address'), '02:42:AC:11:00:02\n');
    assert.deepEqual([...interfaceMac('eth0', dir)!], [0x02, 0x42, 0xac, 0x11, 0x00, 0x02]);
    assert.equal(interfaceMac('nope0', dir), null);
    mkdirSync(join(dir, 'bad0'));
    writeFileSync(join(dir, 'bad0', 'address'), 'not a mac\n');
    assert.equal(interfaceMac('bad0', dir), null);
    writeFileSync(join(dir, 'ttl'), '57\n');
    assert.equal(defaultTtl(join(dir, 'ttl')), 57);
    writeFileSync(join(dir, 'ttl'), '0\n');
    assert.equal(defaultTtl(join(dir, 'ttl')), LINUX_DEFAULT_TTL);
    assert.equal(defaultTtl(join(dir, 'missing')), LINUX_DEFAULT_TTL);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DF: clear for the addon\'s sockets (IP_PMTUDISC_DONT), set for Node\'s dgram (the kernel default, WANT)', () => {
  assert.equal(localUnderlayFacts('lo', 'batch').df, false);
  assert.equal(localUnderlayFacts('lo', 'dgram').df, true);
  assert.equal(localUnderlayFacts('lo', 'batch').name, 'lo');
});
