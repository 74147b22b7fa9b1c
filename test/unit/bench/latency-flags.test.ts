/**
 * bench/latency/run.sh's flags: --counts must be three positive whole
 * numbers, refused with exit 2 naming the flag before anything needs root or
 * touches a namespace. The script runs as an unprivileged user (setpriv), so
 * that a check that let a bad value through would stop at "run as root"
 * (exit 1) and never start a bench.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const script = join(__dirname, '..', '..', '..', '..', 'bench', 'latency', 'run.sh');

function run(...args: string[]): { status: number | null; err: string } {
  const asRoot = process.getuid?.() === 0;
  const cmd = asRoot ? 'setpriv' : 'bash';
  const argv = asRoot ? ['--reuid=65534', '--regid=65534', '--clear-groups', 'bash', script, ...args] : [script, ...args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, err: r.stderr };
}

test('bench/latency/run.sh --counts: anything but three positive whole numbers is exit 2 naming --counts', () => {
  assert.ok(existsSync(script), script);
  for (const counts of ['0,5,5', '5,-1,5', '5,5,abc', '5,2.5,5', '5,5,05', '5,5,99999999']) {
    const r = run('--counts', counts, '--prefix', 'vxf-lt-');
    assert.equal(r.status, 2, `--counts ${counts}: ${r.err}`);
    assert.match(r.err, /bench:latency: --counts takes positive whole numbers of pings, got '[^']*' in /, counts);
  }
  const few = run('--counts', '5,5', '--prefix', 'vxf-lt-');
  assert.equal(few.status, 2);
  assert.match(few.err, /--counts takes three numbers .*got '5 5'/);
  // Good counts pass the flag checks and stop at the next one (not root: exit 1), a bench never starts.
  const ok = run('--counts', '5,10,20', '--prefix', 'vxf-lt-');
  if (process.getuid?.() === 0) {
    assert.equal(ok.status, 1, ok.err);
    assert.match(ok.err, /run as root/);
  } else {
    assert.notEqual(ok.status, 2, ok.err);
  }
});
