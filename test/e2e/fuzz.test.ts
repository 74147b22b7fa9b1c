/**
 * The fuzz run of `npm run fuzz` (bench/fuzz/fuzz.ts), shorter: a real
 * daemon and a peer in namespaces, malformed datagrams at the UDP port and
 * malformed frames at the TAP, through each of the daemon's receive paths
 * (recvmmsg with UDP GRO, plain recvmmsg, Node's dgram). Every datagram and
 * frame it read is accounted for, exactly, the daemon stays up with a flat
 * RSS, and a ping gets through afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runFuzz } from '../../bench/fuzz/fuzz';
import { Lab, needNamespaces } from '../helpers/netns';

const RUNS = [
  { name: '--io batch (offloads: UDP GRO)', args: [], datagrams: 50_000 },
  { name: '--io batch --no-offload (recvmmsg)', args: ['--no-offload'], datagrams: 20_000 },
  { name: '--io dgram', args: ['--io', 'dgram'], datagrams: 20_000 },
];

test('fuzz: every datagram and frame accounted for, on each receive path', { timeout: 900_000 }, async (t) => {
  if (!needNamespaces(t)) return;
  // The fuzz run makes and removes its namespaces itself; the Lab holds the
  // prefix, removes stale ones first and whatever is left at the end or exit.
  const lab = new Lab('vxt-fzt-');
  try {
    for (const run of RUNS) {
      await t.test(run.name, async (t) => {
        const report = await runFuzz({
          datagrams: run.datagrams, tapFrames: 5_000, seconds: 120, seed: 42,
          prefix: lab.prefix, daemonArgs: run.args,
          log: (l) => t.diagnostic(l),
        });
        for (const c of report.checks) t.diagnostic(`${c.ok ? 'ok' : 'FAIL'} ${c.name}: ${c.detail}`);
        assert.equal(report.sent.cut, false, 'the deadline did not cut the flood short');
        assert.equal(report.sent.datagrams, run.datagrams, `every datagram was sent: ${JSON.stringify(report.sent.failed)}`);
        assert.deepEqual(report.checks.filter((c) => !c.ok), [], 'every check held');
        const b = report.books;
        assert.equal(b.netInFrames, b.decapFrames + b.netDrops);
        assert.equal(b.tapInFrames, b.encapFrames + b.arpAnswered + b.tapDrops);
        // Only the oversized datagrams are too long for a slot (some may have been lost to a full socket buffer).
        const tooLong = b.drops['vxlan-too-long']!;
        assert.ok(tooLong > 0 && tooLong <= (report.sent.kinds['oversized'] ?? 0), `vxlan-too-long ${tooLong}, oversized sent ${report.sent.kinds['oversized']}`);
        assert.ok(b.drops['inner-spoof']! > 0);
      });
    }
  } finally {
    await lab.cleanup();
  }
});
