/** The static L2 peers file (static-l2.ts) and diffVteps (l2-network.ts): every error by name, reload and the own entry. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ConfigError } from '../../../src/errors';
import { diffVteps, type Vtep, type VtepEvent } from '../../../src/control/l2-network';
import { loadL2PeersFile, parseL2PeersConfig, StaticL2Network, StaticL2Source } from '../../../src/control/static-l2';
import { parseL2SegmentConfig } from '../../../src/control/etcd/network-config';

const F = 'l2.json';
const parse = (doc: unknown): ReturnType<typeof parseL2PeersConfig> => parseL2PeersConfig(JSON.stringify(doc), F);

function rejects(fn: () => unknown, field: string | undefined, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'VXTAP_ERR_CONFIG');
    assert.equal(err.field, field);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

const V = (publicIp: string, extra: Partial<Vtep> = {}): Vtep => ({ publicIp, port: 4789, vtepMac: null, macs: [], ...extra });

describe('L2 peers file: valid', () => {
  test('the example of issue #10', () => {
    assert.deepEqual(parse({ vni: 42, port: 4789, peers: [{ publicIp: '192.168.90.2' }, { publicIp: '192.168.90.3', macs: ['AA:bb:cc:00:00:01'] }] }), {
      vni: 42,
      port: 4789,
      peers: [V('192.168.90.2'), V('192.168.90.3', { macs: ['aa:bb:cc:00:00:01'] })],
    });
  });

  test('defaults: vni 1, port 4789; a peer\'s port defaults to the file\'s, its own wins', () => {
    assert.deepEqual(parse({ peers: [] }), { vni: 1, port: 4789, peers: [] });
    const c = parse({ vni: 7, port: 8472, peers: [{ publicIp: '10.0.0.2' }, { publicIp: '10.0.0.3', port: 4790, vtepMac: '02:00:00:00:00:03' }] });
    assert.deepEqual(c.peers, [V('10.0.0.2', { port: 8472 }), V('10.0.0.3', { port: 4790, vtepMac: '02:00:00:00:00:03' })]);
  });

  test('a peer\'s own vtepMac among its macs is fine (the same VTEP)', () => {
    const c = parse({ peers: [{ publicIp: '10.0.0.2', vtepMac: '02:00:00:00:00:02', macs: ['02:00:00:00:00:02'] }] });
    assert.deepEqual(c.peers[0]!.macs, ['02:00:00:00:00:02']);
  });
});

describe('L2 peers file: each error names the file and the field', () => {
  test('not JSON, not an object, unknown keys (with a suggestion)', () => {
    rejects(() => parseL2PeersConfig('{', F), undefined, /^l2\.json: not JSON: /);
    rejects(() => parse([]), undefined, 'l2.json: the top level must be an object, got an array');
    rejects(() => parse({ vin: 4, peers: [] }), 'vin', 'l2.json: vin: unknown key (did you mean "vni"?); allowed: vni, port, peers');
    rejects(() => parse({ peers: [{ publicIp: '10.0.0.2', mac: [] }] }), 'peers[0].mac', /^l2\.json: peers\[0\]\.mac: unknown key \(did you mean "macs"\?\)/);
    rejects(() => parse({ peers: [{ publicIp: '10.0.0.2', subnet: '10.44.2.0/24' }] }), 'peers[0].subnet', /unknown key; allowed: publicIp, port, vtepMac, macs$/);
  });

  test('vni: 0 refused with the reason; out of range; not an integer', () => {
    rejects(() => parse({ vni: 0, peers: [] }), 'vni', /^l2\.json: vni: must be in 1\.\.16777215, got 0: VNI 0 is reserved /);
    rejects(() => parse({ vni: 16777216, peers: [] }), 'vni', 'l2.json: vni: must be in 1..16777215 (24 bits), got 16777216');
    rejects(() => parse({ vni: -1, peers: [] }), 'vni', /must be in 1\.\.16777215/);
    rejects(() => parse({ vni: '42', peers: [] }), 'vni', 'l2.json: vni: must be an integer, got string "42"');
    rejects(() => parse({ vni: 4.5, peers: [] }), 'vni', 'l2.json: vni: must be an integer, got number 4.5');
  });

  test('port: 1..65535, the file\'s and a peer\'s', () => {
    rejects(() => parse({ port: 0, peers: [] }), 'port', 'l2.json: port: must be in 1..65535, got 0');
    rejects(() => parse({ port: 65536, peers: [] }), 'port', 'l2.json: port: must be in 1..65535, got 65536');
    rejects(() => parse({ peers: [{ publicIp: '10.0.0.2', port: 70000 }] }), 'peers[0].port', 'l2.json: peers[0].port: must be in 1..65535, got 70000');
    rejects(() => parse({ peers: [{ publicIp: '10.0.0.2', port: null }] }), 'peers[0].port', 'l2.json: peers[0].port: must be an integer, got null');
  });

  test('peers: required, an array of objects', () => {
    rejects(() => parse({ vni: 4 }), 'peers', 'l2.json: peers: missing (use [] for a segment with no other host yet)');
    rejects(() => parse({ peers: {} }), 'peers', 'l2.json: peers: must be an array, got an object');
    rejects(() => parse({ peers: ['10.0.0.2'] }), 'peers[0]', 'l2.json: peers[0]: peers[0] must be an object, got string "10.0.0.2"');
  });

  test('publicIp: missing, not IPv4, 0/8, 127/8, multicast, broadcast', () => {
    rejects(() => parse({ peers: [{}] }), 'peers[0].publicIp', 'l2.json: peers[0].publicIp: missing: the VTEP\'s underlay IPv4 or IPv6 address');
    rejects(() => parse({ peers: [{ publicIp: '1.2.3' }] }), 'peers[0].publicIp', 'l2.json: peers[0].publicIp: "1.2.3" is not an IPv4 or IPv6 address');
    rejects(() => parse({ peers: [{ publicIp: 17 }] }), 'peers[0].publicIp', 'l2.json: peers[0].publicIp: not an IPv4 or IPv6 address: 17');
    rejects(() => parse({ peers: [{ publicIp: '0.1.2.3' }] }), 'peers[0].publicIp', /"0\.1\.2\.3" is in 0\.0\.0\.0\/8/);
    rejects(() => parse({ peers: [{ publicIp: '127.0.0.2' }] }), 'peers[0].publicIp', /"127\.0\.0\.2" is a loopback address/);
    rejects(() => parse({ peers: [{ publicIp: '239.1.1.1' }] }), 'peers[0].publicIp', /"239\.1\.1\.1" is a multicast address/);
    rejects(() => parse({ peers: [{ publicIp: '255.255.255.255' }] }), 'peers[0].publicIp', /is the broadcast address$/);
  });

  test('publicIp over IPv6 (issue #13): accepted in RFC 5952 form; loopback and link-local refused; a file that mixes families names the entry', () => {
    const c = parse({ peers: [{ publicIp: 'FD00:0:0::2' }, { publicIp: 'fd00::3' }] });
    assert.deepEqual(c.peers.map((p) => p.publicIp), ['fd00::2', 'fd00::3']);
    rejects(() => parse({ peers: [{ publicIp: '::1' }] }), 'peers[0].publicIp', /"::1" is the loopback address/);
    rejects(() => parse({ peers: [{ publicIp: 'fe80::2' }] }), 'peers[0].publicIp', /link-local/);
    rejects(() => parse({ peers: [{ publicIp: 'fd00::2' }, { publicIp: '10.0.0.3' }] }), 'peers[1].publicIp',
      'l2.json: peers[1].publicIp: 10.0.0.3 is IPv4, but peers[0].publicIp is IPv6: all VTEPs of one segment use one underlay family');
    rejects(() => parse({ peers: [{ publicIp: 'fd00::2' }, { publicIp: 'fd00:0::2' }] }), 'peers[1].publicIp', /fd00::2 is also peers\[0\]/);
  });

  test('a public IP listed twice', () => {
    rejects(() => parse({ peers: [{ publicIp: '10.0.0.2' }, { publicIp: '10.0.0.3' }, { publicIp: '10.0.0.2' }] }), 'peers[2].publicIp',
      'l2.json: peers[2].publicIp: 10.0.0.2 is also peers[0]');
  });

  test('MACs: not a MAC, multicast, all-zero, macs not an array', () => {
    rejects(() => parse({ peers: [{ publicIp: '10.0.0.2', vtepMac: 'zz' }] }), 'peers[0].vtepMac', 'l2.json: peers[0].vtepMac: "zz" is not a MAC address (aa:bb:cc:dd:ee:ff)');
    rejects(() => parse({ peers: [{ publicIp: '10.0.0.2', macs: ['01:00:5e:00:00:01'] }] }), 'peers[0].macs[0]', /"01:00:5e:00:00:01" is a multicast MAC/);
    rejects(() => parse({ peers: [{ publicIp: '10.0.0.2', macs: ['00:00:00:00:00:00'] }] }), 'peers[0].macs[0]', /is the all-zero MAC/);
    rejects(() => parse({ peers: [{ publicIp: '10.0.0.2', macs: 'aa:bb:cc:00:00:01' }] }), 'peers[0].macs', 'l2.json: peers[0].macs: must be an array of MAC addresses, got string "aa:bb:cc:00:00:01"');
    rejects(() => parse({ peers: [{ publicIp: '10.0.0.2', macs: [5] }] }), 'peers[0].macs[0]', 'l2.json: peers[0].macs[0]: not a MAC address (aa:bb:cc:dd:ee:ff): 5');
  });

  test('MACs unique across peers (any case), and not twice in one list', () => {
    rejects(() => parse({ peers: [{ publicIp: '10.0.0.2', macs: ['aa:bb:cc:00:00:01'] }, { publicIp: '10.0.0.3', macs: ['AA:BB:CC:00:00:01'] }] }), 'peers[1].macs[0]',
      'l2.json: peers[1].macs[0]: aa:bb:cc:00:00:01 is also peers[0].macs[0] (10.0.0.2): a MAC sits behind one VTEP only');
    rejects(() => parse({ peers: [{ publicIp: '10.0.0.2', vtepMac: '02:00:00:00:00:09' }, { publicIp: '10.0.0.3', vtepMac: '02:00:00:00:00:09' }] }), 'peers[1].vtepMac',
      /02:00:00:00:00:09 is also peers\[0\]\.vtepMac \(10\.0\.0\.2\)/);
    rejects(() => parse({ peers: [{ publicIp: '10.0.0.2', macs: ['aa:bb:cc:00:00:01', 'aa:bb:cc:00:00:01'] }] }), 'peers[0].macs[1]',
      'l2.json: peers[0].macs[1]: aa:bb:cc:00:00:01 is listed twice (also peers[0].macs[0])');
  });

  test('a file that cannot be read names its path', () => {
    rejects(() => loadL2PeersFile('/nonexistent/l2.json'), undefined, '/nonexistent/l2.json: cannot read the L2 peers file: ENOENT');
  });
});

describe('diffVteps', () => {
  test('keyed by publicIp: removed first, then added, each in input order; unchanged: nothing', () => {
    const a = V('10.0.0.2');
    const b = V('10.0.0.3');
    const c = V('10.0.0.4');
    assert.deepEqual(diffVteps([a, b], [a, b]), []);
    assert.deepEqual(diffVteps([], [a, b]), [{ type: 'added', vtep: a }, { type: 'added', vtep: b }]);
    assert.deepEqual(diffVteps([a, b, c], [c, V('10.0.0.5')]), [
      { type: 'removed', vtep: a }, { type: 'removed', vtep: b }, { type: 'added', vtep: V('10.0.0.5') },
    ]);
  });

  test('a changed port, VTEP MAC or MAC list is removed (old) + added (new); MAC order does not matter', () => {
    const a = V('10.0.0.2', { macs: ['aa:bb:cc:00:00:01', 'aa:bb:cc:00:00:02'] });
    for (const changed of [{ port: 8472 }, { vtepMac: '02:00:00:00:00:02' }, { macs: ['aa:bb:cc:00:00:01'] }, { macs: ['aa:bb:cc:00:00:01', 'aa:bb:cc:00:00:03'] }]) {
      const b = { ...a, ...changed };
      assert.deepEqual(diffVteps([a], [b]), [{ type: 'removed', vtep: a }, { type: 'added', vtep: b }], JSON.stringify(changed));
    }
    assert.deepEqual(diffVteps([a], [{ ...a, macs: ['aa:bb:cc:00:00:02', 'aa:bb:cc:00:00:01'] }]), []);
  });
});

describe('StaticL2Source and StaticL2Network', () => {
  let dir: string;
  let n = 0;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'vxtap-l2-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (doc: unknown): string => {
    const p = join(dir, `l2-${++n}.json`);
    writeFileSync(p, JSON.stringify(doc));
    return p;
  };
  const ALL = { vni: 42, port: 4789, peers: [{ publicIp: '192.168.90.1' }, { publicIp: '192.168.90.2' }, { publicIp: '192.168.90.3', macs: ['aa:bb:cc:00:00:01'] }] };

  test('one file serves every host: each skips its own entry', async () => {
    const p = file(ALL);
    for (const self of ['192.168.90.1', '192.168.90.2', '192.168.90.3']) {
      const src = new StaticL2Source(p, { selfIp: self, intervalMs: 0 });
      const ips = (await src.snapshot()).map((v) => v.publicIp);
      assert.deepEqual(ips, ALL.peers.map((x) => x.publicIp).filter((ip) => ip !== self));
      await src.close();
    }
  });

  test('reload() emits the diff as one batch; a bad file or a vni change is reported and the old list kept', async () => {
    const p = file(ALL);
    const errors: ConfigError[] = [];
    const src = new StaticL2Source(p, { selfIp: '192.168.90.1', intervalMs: 0, onError: (e) => errors.push(e) });
    await src.snapshot();
    const batches: VtepEvent[][] = [];
    src.watch((b) => batches.push(b));
    await new Promise((r) => setImmediate(r)); // the re-read that watch() makes: nothing changed
    assert.deepEqual(batches, []);

    writeFileSync(p, JSON.stringify({ ...ALL, peers: [ALL.peers[0], { publicIp: '192.168.90.3' }, { publicIp: '192.168.90.4' }] }));
    const batch = src.reload();
    assert.deepEqual(batches, [batch]);
    assert.deepEqual(batch.map((e) => `${e.type} ${e.vtep.publicIp} ${e.vtep.macs.join(',')}`), [
      'removed 192.168.90.2 ', 'removed 192.168.90.3 aa:bb:cc:00:00:01', 'added 192.168.90.3 ', 'added 192.168.90.4 ',
    ]);

    writeFileSync(p, '{"vni": 42, "peers": [{"publicIp": "192.168.90.9"}, {"publicIp": "192.168.90.9"}]}');
    assert.deepEqual(src.reload(), []);
    writeFileSync(p, JSON.stringify({ ...ALL, vni: 43 }));
    assert.deepEqual(src.reload(), []);
    assert.deepEqual(errors.map((e) => e.field), ['peers[1].publicIp', 'vni']);
    assert.match(errors[1]!.message, /vni changed from 42 to 43: restart vxtap to apply it; this edit is ignored/);
    assert.deepEqual((await src.snapshot()).map((v) => v.publicIp), ['192.168.90.3', '192.168.90.4'], 'the last good list stays');
    assert.equal(batches.length, 1);
    await src.close();
    assert.deepEqual(src.reload(), [], 'nothing after close()');
  });

  test('the file is polled: an edit is seen without reload()', async () => {
    const p = file(ALL);
    const src = new StaticL2Source(p, { selfIp: '192.168.90.1', intervalMs: 50, persistent: false });
    await src.snapshot();
    const batches: VtepEvent[][] = [];
    src.watch((b) => batches.push(b));
    await new Promise((r) => setTimeout(r, 100));
    writeFileSync(p, JSON.stringify({ ...ALL, peers: [...ALL.peers, { publicIp: '192.168.90.5', port: 4790 }] }));
    const end = Date.now() + 5000;
    while (batches.length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    // source: the file and line of the entry (one line: JSON.stringify writes no newlines).
    assert.deepEqual(batches, [[{ type: 'added', vtep: V('192.168.90.5', { port: 4790, source: { kind: 'file', path: p, line: 1 } }) }]]);
    await src.close();
  });

  test('StaticL2Network: a bad file is a ConfigError at construction; join gives vni, port, the MAC asked for and no etcd status', async () => {
    rejects(() => new StaticL2Network(file({ vni: 0, peers: [] })), 'vni', /got 0/);
    const backend = new StaticL2Network(file(ALL), { intervalMs: 0 });
    assert.match(backend.describe, /^L2 peers file .*l2-\d+\.json$/);
    const net = await backend.join({ publicIp: '192.168.90.2', vtepMac: '02:00:00:00:00:aa', log: pino({ level: 'silent' }), onFatal: () => assert.fail('not fatal') });
    assert.equal(net.vni, 42);
    assert.equal(net.port, 4789);
    assert.equal(net.vtepMac, '02:00:00:00:00:aa');
    assert.deepEqual(net.status(), { lease: null, etcd: null });
    assert.deepEqual((await net.source.snapshot()).map((v) => v.publicIp), ['192.168.90.1', '192.168.90.3']);
    await net.close();
  });
});

describe('parseL2SegmentConfig (<prefix>/config for --mode l2)', () => {
  test('Network is not needed; Backend and its Type may be left out', () => {
    assert.deepEqual(parseL2SegmentConfig('{"Backend": {"VNI": 42, "Port": 4789}}'), { vni: 42, port: 4789, portDefaulted: false, warnings: [] });
    const d = parseL2SegmentConfig('{}');
    assert.equal(d.vni, 1);
    assert.equal(d.port, 8472);
    assert.equal(d.portDefaulted, true);
    assert.match(d.warnings[0]!, /Backend\.Port is not set: using 8472/);
  });

  test('a routed network\'s whole config is read for its Backend; errors name the field', () => {
    assert.equal(parseL2SegmentConfig('{"Network":"10.44.0.0/16","Backend":{"Type":"vxlan","VNI":7,"Port":4789}}').vni, 7);
    rejects(() => parseL2SegmentConfig('{"Backend":{"Type":"udp"}}'), 'Backend.Type', 'network config: Backend.Type: must be "vxlan", got "udp"');
    rejects(() => parseL2SegmentConfig('{"Backend":{"VNI":0}}'), 'Backend.VNI', 'network config: Backend.VNI: must be in 1..16777215, got 0');
    rejects(() => parseL2SegmentConfig('{"Backend":[]}'), 'Backend', 'network config: Backend: must be an object, got an array');
    rejects(() => parseL2SegmentConfig('[1]'), undefined, 'network config: must be a JSON object, got an array');
  });
});
