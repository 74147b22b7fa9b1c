/**
 * The addon's latency stamps (native/stamps.cc), switched on by VXTAP_STAMPS
 * at load: a bad VXTAP_STAMPS_MAX leaves them off with a warning (it used to
 * be taken as strtoull took it: "-1" made a 48-byte file with room for 2^64-1
 * records), and the --pcap-underlay capture's reader (kind 'packet') takes
 * none, so it cannot pass for the TAP side in the budget. Each case is a
 * child process: the stamps are set up once, when the addon loads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addonPath } from '../../../src/io/native';

const HEADER = 64;
const RECORD = 16;

function load(env: Record<string, string>, script = 'process.stdout.write(String(require(process.argv[1]).stamps))'): { out: string; err: string; status: number | null } {
  const r = spawnSync(process.execPath, ['-e', script, addonPath], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { out: r.stdout, err: r.stderr, status: r.status };
}

test('VXTAP_STAMPS_MAX: a negative, partly numeric, empty or too large value leaves the stamps off with a warning; a good one sizes the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-stamps-'));
  try {
    const file = join(dir, 'stamps.bin');
    for (const bad of ['-1', '12abc', '', ' 5', '+5', '18446744073709551615', '99999999999999999999999', String(2 ** 28 + 1)]) {
      rmSync(file, { force: true });
      const r = load({ VXTAP_STAMPS: file, VXTAP_STAMPS_MAX: bad });
      assert.equal(r.status, 0, `VXTAP_STAMPS_MAX=${JSON.stringify(bad)}: the process lives (${r.err})`);
      assert.equal(r.out, 'false', `VXTAP_STAMPS_MAX=${JSON.stringify(bad)}: stamps are off`);
      assert.match(r.err, /VXTAP_STAMPS_MAX=.*not a number of records in 0 \.\. 268435456: stamps are off/);
      assert.equal(existsSync(file), false, 'no file made');
    }
    const ok = load({ VXTAP_STAMPS: file, VXTAP_STAMPS_MAX: '64' });
    assert.equal(ok.out, 'true', ok.err);
    assert.equal(statSync(file).size, HEADER + 64 * RECORD);
    assert.equal(readFileSync(file).readBigUInt64LE(8), 64n, 'the capacity in the header');
    rmSync(file);
    const off = load({ VXTAP_STAMPS: file, VXTAP_STAMPS_MAX: '0' });
    assert.deepEqual([off.out, off.err], ['false', ''], '0: off, as before, without a word');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a packet reader (the --pcap-underlay capture) takes no stamps', { skip: process.getuid?.() !== 0 && !process.env['CI'] ? 'needs root (CAP_NET_RAW for the AF_PACKET socket)' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-stamps-'));
  try {
    const file = join(dir, 'stamps.bin');
    // On loopback: an AF_PACKET socket for one UDP port, a Reader of kind
    // 'packet' over it, three datagrams to that port; the child waits for the
    // reader to deliver them, then says how many it read.
    const script = `
      const a = require(process.argv[1]);
      const dgram = require('node:dgram');
      const port = 40000 + (process.pid % 20000);
      const fd = a.packetOpen('lo', port);
      const SLOT = 16 + 65536 + 256, SLOTS = 4;
      const slab = Buffer.alloc(SLOT * SLOTS), sizes = new Uint32Array(SLOTS);
      let got = 0;
      const s = dgram.createSocket('udp4');
      const done = () => { r.stop(); a.close(fd); s.close(); process.stdout.write(String(got)); };
      const timer = setTimeout(done, 5000);
      const r = new a.Reader({ fd, kind: 'packet', slab, slotSize: SLOT, headroom: 16, slots: SLOTS, sizes,
        onBatch: (n) => { got += n; if (got >= 3) { clearTimeout(timer); done(); } },
        onError: (e) => { process.stderr.write(String(e && e.message)); } });
      for (let i = 0; i < 3; i++) s.send(Buffer.from('x'), port, '127.0.0.1');
    `;
    const r = load({ VXTAP_STAMPS: file, VXTAP_STAMPS_MAX: '1024' }, script);
    assert.equal(r.status, 0, r.err);
    assert.ok(Number(r.out) >= 3, `the capture read the datagrams (read ${r.out}; ${r.err})`);
    const count = readFileSync(file).readBigUInt64LE(16);
    assert.equal(count, 0n, 'no stamp was taken for them');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
