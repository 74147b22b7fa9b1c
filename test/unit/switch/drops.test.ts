/**
 * The drop table (switch/drops.ts): the names are a public interface (`vxtap
 * stats`, `/metrics`, `--trace-filter drop REASON`), so their order is held
 * here as golden text; the constants, the counters' sides and the README's
 * table of drop reasons all come from (or must agree with) the one table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Counters } from '../../../src/switch/counters';
import { DROPS, DROP_NAMES, DropReason, dropByName, dropSide } from '../../../src/switch/drops';

/** The names in index order, as released: a new reason may only be appended. */
const RELEASED = [
  'runt', 'flood', 'fdb-miss', 'arp-miss', 'too-big', 'vxlan-too-short', 'vxlan-no-i-flag', 'vxlan-unknown-vni',
  'unknown-vtep', 'udp-send', 'tap-write', 'inner-spoof', 'vxlan-too-long', 'tap-too-long', 'tap-offload', 'arp-reply-write',
];

test('the names keep their released order, and the constants are their indices', () => {
  assert.deepEqual(DROP_NAMES.slice(0, RELEASED.length), RELEASED);
  assert.equal(new Set(DROP_NAMES).size, DROP_NAMES.length, 'no name twice');
  assert.equal(new Set(DROPS.map((d) => d.key)).size, DROPS.length, 'no key twice');
  DROPS.forEach((d, i) => {
    assert.equal(DropReason[d.key], i, d.key);
    assert.match(d.name, /^[a-z0-9]+(-[a-z0-9]+)*$/, 'kebab-case');
    assert.equal(dropByName(d.name), d);
  });
  assert.deepEqual(
    [DropReason.RUNT, DropReason.UDP_SEND, DropReason.TAP_WRITE, DropReason.INNER_SPOOF, DropReason.ARP_REPLY_WRITE],
    [0, 9, 10, 11, 15],
  );
  assert.equal(dropByName('no-such-reason'), undefined);
});

test('each drop counts on its side of the books', () => {
  const c = new Counters();
  DROPS.forEach((_, i) => c.drop(i, 2 ** i));
  const s = c.snapshot();
  let tap = 0;
  let net = 0;
  DROPS.forEach((d, i) => {
    assert.equal(s.drops[d.name], 2 ** i);
    assert.equal(dropSide(i), d.side);
    if (d.side === 'tap') tap += 2 ** i;
    else net += 2 ** i;
  });
  assert.equal(s.tapDrops, tap);
  assert.equal(s.netDrops, net);
  assert.deepEqual(DROP_NAMES.filter((_, i) => dropSide(i) === 'net'), [
    'vxlan-too-short', 'vxlan-no-i-flag', 'vxlan-unknown-vni', 'unknown-vtep', 'tap-write', 'inner-spoof', 'vxlan-too-long',
    'l2-bad-source', 'l2-static-mac',
  ]);
});

test('the README lists every drop reason as the table says it: name, side and meaning', () => {
  const readme = readFileSync(join(__dirname, '../../../../README.md'), 'utf8');
  const start = readme.indexOf('| reason | side | what |');
  assert.ok(start >= 0, 'the README has a table of drop reasons');
  const rows = readme.slice(start).split('\n').slice(2);
  const listed = new Map<string, { side: string; what: string }>();
  for (const row of rows) {
    const m = /^\| `([a-z0-9-]+)` \| (TAP|network) \| (.*) \|$/.exec(row);
    if (m === null) break;
    // A cross-reference to a README section is the README's own.
    listed.set(m[1]!, { side: m[2] === 'TAP' ? 'tap' : 'net', what: m[3]!.replace(/ \(\[[^\]]*\]\(#[^)]*\)\)/g, '') });
  }
  assert.deepEqual([...listed.keys()].sort(), [...DROP_NAMES].sort(), 'every reason, and nothing else');
  for (const d of DROPS) assert.deepEqual(listed.get(d.name), { side: d.side, what: d.explanation }, d.name);
});
