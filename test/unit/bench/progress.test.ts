/**
 * The step count and time left that bench/lab/run.sh prints before each
 * measurement (bench/lab/progress.sh), run in bash with a made-up clock, under
 * the same `set -euo pipefail` as run.sh.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from '../../helpers/daemon';

const PROGRESS = join(REPO, 'bench', 'lab', 'progress.sh');

function bash(script: string): string[] {
  const r = spawnSync('bash', ['-c', `set -euo pipefail\n. "${PROGRESS}"\nNOW=1000\nprogress_now() { echo $NOW; }\n${script}`], { encoding: 'utf8', timeout: 10000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n');
}

test('before any step is done the time left is the plan; after, the plan left scaled by how long the steps took', () => {
  const out = bash(`
progress_init 4 40
progress_next 10; echo "$PROGRESS_TAG"
NOW=1020; progress_next 10; echo "$PROGRESS_TAG"   # the first step took 20 s for a plan of 10: twice as slow
NOW=1040; progress_next 10; echo "$PROGRESS_TAG"
NOW=1045; progress_next 10; echo "$PROGRESS_TAG"   # now 45 s for a plan of 30
`);
  assert.deepEqual(out, [
    '[step 1/4, ~40 s left]',
    '[step 2/4, ~60 s left]',
    '[step 3/4, ~40 s left]',
    '[step 4/4, ~20 s left]',
  ]);
});

test('a full run: 7 paths, 10 s runs, 3 repeats, as run.sh plans it', () => {
  // run.sh: per path REPEAT × (TCP 1, TCP 4) + UDP + ping; iperf3 steps planned at SECS + 1 s, ping at 6 s.
  const out = bash(`
P=7 R=3 S=10
progress_init $((P * (2 * R + 2))) $((P * ((2 * R + 1) * (S + 1) + 6)))
progress_next $((S + 1)); echo "$PROGRESS_TAG"
NOW=$((1000 + 14)); progress_next $((S + 1)); echo "$PROGRESS_TAG"
`);
  // 7 × 83 s = 581 s planned; after one step that took 14 s for 11: 570 × 14 / 11 = 725 s.
  assert.deepEqual(out, ['[step 1/56, ~10 min left]', '[step 2/56, ~12 min left]']);
});

test('durations read as people say them', () => {
  const out = bash('for s in 0 4 85 90 240 3599 3600 5430; do progress_human $s; done');
  assert.deepEqual(out, ['~0 s', '~10 s', '~90 s', '~2 min', '~4 min', '~60 min', '~1 h 0 min', '~1 h 31 min']);
});

test('run.sh announces every measurement with the step tag, and plans as many steps as it announces', () => {
  const r = spawnSync('bash', ['-c', `grep -c '^ *step ' "${join(REPO, 'bench', 'lab', 'run.sh')}"; grep -c '^ *say "\\$name' "${join(REPO, 'bench', 'lab', 'run.sh')}" || true`], { encoding: 'utf8' });
  const [steps, plainSays] = r.stdout.trim().split('\n').map(Number);
  // TCP 1 and TCP 4 inside the repeat loop, UDP, ping (three spacings) and sockperf once: 2R + 3, what progress_init is given.
  assert.equal(steps, 5);
  assert.equal(plainSays, 0);
});
