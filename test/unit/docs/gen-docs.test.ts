import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generate, labVars, parseMarker, substitute, traceRecords, type Runner } from '../../../scripts/gen-docs';

const TRACE = [
  'h1 #1 00:00:01.000000 from TAP, 42 bytes',
  '  - header 2 (28 bytes) = ARP {who-has 10.44.2.0 tell 10.44.1.0}',
  '  =>      answered locally',
  'h1 #2 00:00:01.000100 from TAP, 98 bytes',
  '  - header 3 (08 bytes) = ICMPv4 {echo-request id 1 seq 1}',
  '  lookup  FDB hit',
  '  =>      encap VNI 1',
  'h1 #3 00:00:01.000300 from network 192.168.93.2:5 → 192.168.93.1:4789, 106 bytes of UDP payload',
  '  - header 6 (08 bytes) = ICMPv4 {echo-reply id 1 seq 1}',
].join('\n');

function fakeRunner(outputs: Record<string, string>, state: unknown = null): Runner & { ran: string[] } {
  const ran: string[] = [];
  return {
    ran,
    run(cmd) { ran.push(cmd); const out = outputs[cmd]; return out === undefined ? { out: `no such command: ${cmd}`, ok: false } : { out, ok: true }; },
    labState() { return state; },
  };
}

test('markers parse; ordinary lines and malformed markers are told apart', () => {
  assert.equal(parseMarker('plain text'), null);
  assert.deepEqual(parseMarker('<!-- do: npx vxtap lab up -->'), { kind: 'do', cmd: 'npx vxtap lab up' });
  assert.deepEqual(parseMarker('<!-- $ ip route -->'), { kind: '$', cmd: 'ip route' });
  const t = parseMarker('<!-- trace: h2 match="echo reply" n=2 lines=lookup -->');
  assert.ok(t !== null && t.kind === 'trace');
  assert.equal(t.host, 'h2');
  assert.equal(t.n, 2);
  assert.equal(t.match, 'echo reply');
  assert.throws(() => parseMarker('<!-- trace: h1 -->'), /match=RE/);
  assert.throws(() => parseMarker('<!-- do: -->'), /nothing after/);
});

test('trace records split at "HOST #N" lines', () => {
  const r = traceRecords(TRACE, 'h1');
  assert.equal(r.length, 3);
  assert.equal(r[1]?.length, 4);
  assert.match(r[2]?.[0] ?? '', /^h1 #3 /);
});

test('substitute refuses an unknown value instead of printing nothing', () => {
  assert.equal(substitute('via {{h2.gw}}', { 'h2.gw': '10.44.2.0' }), 'via 10.44.2.0');
  assert.throws(() => substitute('{{h9.subnet}}', {}), /unknown value \{\{h9\.subnet\}\}/);
});

test('lab values come from lab.json hosts, with the gateway derived from the subnet', () => {
  const v = labVars({ prefix: 'vxlab-', hosts: [{ name: 'h1', subnet: '10.44.7.0/24', ip: '192.168.93.1', pid: 42, containerMac: null }] });
  assert.equal(v['h1.subnet'], '10.44.7.0/24');
  assert.equal(v['h1.gw'], '10.44.7.0');
  assert.equal(v['h1.pid'], '42');
  assert.equal(v['lab.prefix'], 'vxlab-');
  assert.equal(v['h1.containerMac'], undefined);
});

test('a template becomes a document: commands run in order, blocks filled, traces walked forward, finally always runs', () => {
  const tpl = [
    '<!-- template: a note',
    'for editors -->',
    '<!-- finally: lab down -->',
    '<!-- do: lab up -->',
    'h1 leased {{h1.subnet}}.',
    '<!-- $ sudo ip route -->',
    '```',
    'old output',
    '```',
    '<!-- trace: h1 match=echo-request lines=lookup -->',
    '```',
    '```',
    '<!-- trace: h1 match="ICMPv4 {echo-re.* id {{h1.id}}" -->',
    '```',
    '```',
  ].join('\n');
  const r = fakeRunner({ 'lab up': '', 'ip route': 'default via 10.44.7.1', 'lab down': '', 'npx vxtap lab trace h1 --no-follow -n 100000': TRACE },
    { hosts: [{ name: 'h1', subnet: '10.44.7.0/24', id: 1 }] });
  const doc = generate(tpl, r, '2026-11-30');
  assert.deepEqual(r.ran[0], 'lab up');
  assert.equal(r.ran.at(-1), 'lab down');
  assert.match(doc, /h1 leased 10\.44\.7\.0\/24\./);
  assert.match(doc, /```\n\$ ip route\ndefault via 10\.44\.7\.1\n```/);
  assert.doesNotMatch(doc, /old output/);
  // The first trace marker takes record #2 with only its lookup lines, and says it picked lines.
  assert.match(doc, /h1 #2 [^\n]*\n {2}lookup {2}FDB hit\n {2}\(lines picked from the trace/);
  // The second starts after #2: the echo-reply of #3, not #2 again.
  assert.match(doc, /h1 #3 [^\n]*\n[^\n]*echo-reply/);
  assert.doesNotMatch(doc, /<!-- (do|\$|trace|finally)/, 'markers do not appear in the document');
  assert.doesNotMatch(doc, /for editors/, 'a template note is left out');
});

test('a failing command stops the run, and finally still runs', () => {
  const r = fakeRunner({ 'lab down': '' });
  assert.throws(() => generate('<!-- finally: lab down -->\n<!-- do: lab up -->', r, 'd'), /command failed: lab up/);
  assert.equal(r.ran.at(-1), 'lab down');
});

test('a trace marker that finds too few records is an error, not a short block', () => {
  const r = fakeRunner({ 'npx vxtap lab trace h1 --no-follow -n 100000': TRACE });
  assert.throws(() => generate('<!-- trace: h1 match=ICMPv6 -->\n```\n```', r, 'd'), /0 of 1 records match/);
});
