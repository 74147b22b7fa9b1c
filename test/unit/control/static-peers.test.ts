import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../../src/errors';
import type { PeerEvent } from '../../../src/control/peers';
import { loadPeersFile, parsePeersConfig, StaticPeerSource } from '../../../src/control/static-peers';
import { waitFor } from '../../helpers/netns';

const F = 'peers.json';
const parse = (doc: unknown): ReturnType<typeof parsePeersConfig> => parsePeersConfig(JSON.stringify(doc), F);

const base = () => ({
  vni: 7,
  port: 4789,
  self: { subnet: '10.44.1.0/24' },
  peers: [
    { subnet: '10.44.2.0/24', publicIp: '192.168.90.2', vtepMac: '02:76:c0:a8:5a:02' },
    { subnet: '10.44.3.0/24', publicIp: '192.168.90.3' },
  ] as Record<string, unknown>[],
});

/** Asserts that `fn` throws a ConfigError whose message is exactly `message` (or matches it) and whose field is `field`. */
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

describe('peers file: valid', () => {
  test('a full file', () => {
    assert.deepEqual(parse(base()), {
      vni: 7,
      port: 4789,
      self: { subnet: '10.44.1.0/24' },
      peers: [
        { subnet: '10.44.2.0/24', publicIp: '192.168.90.2', vtepMac: '02:76:c0:a8:5a:02' },
        { subnet: '10.44.3.0/24', publicIp: '192.168.90.3', vtepMac: '02:76:c0:a8:5a:03' },
      ],
    });
  });

  test('defaults: vni 1, port 4789; no peers', () => {
    const c = parse({ self: { subnet: '10.44.1.0/24' }, peers: [] });
    assert.equal(c.vni, 1);
    assert.equal(c.port, 4789);
    assert.deepEqual(c.peers, []);
  });

  test('a missing vtepMac is derived from publicIp', () => {
    const c = parse({ self: { subnet: '10.44.1.0/24' }, peers: [{ subnet: '10.44.2.0/24', publicIp: '192.168.90.2' }] });
    assert.equal(c.peers[0]!.vtepMac, '02:76:c0:a8:5a:02');
  });

  test('MACs are lower-cased; self keeps publicIp and vtepMac when given', () => {
    const c = parse({
      vni: 16777215, port: 8472,
      self: { subnet: '10.44.1.0/24', publicIp: '192.168.90.1', vtepMac: '0A:BB:CC:DD:EE:01' },
      peers: [{ subnet: '10.44.2.0/24', publicIp: '192.168.90.2', vtepMac: 'AA:BB:CC:DD:EE:02' }],
    });
    assert.deepEqual(c.self, { subnet: '10.44.1.0/24', publicIp: '192.168.90.1', vtepMac: '0a:bb:cc:dd:ee:01' });
    assert.equal(c.peers[0]!.vtepMac, 'aa:bb:cc:dd:ee:02');
    assert.equal(c.vni, 16777215);
    assert.equal(c.port, 8472);
  });

  test('two subnets behind one host (same public IP, same derived MAC) are fine', () => {
    const doc = base();
    doc.peers = [{ subnet: '10.44.2.0/24', publicIp: '192.168.90.2' }, { subnet: '10.44.3.0/24', publicIp: '192.168.90.2' }];
    assert.equal(parse(doc).peers.length, 2);
  });
});

describe('peers file: each error names the file and the field', () => {
  test('not JSON: the parser\'s message', () => {
    rejects(() => parsePeersConfig('{"vni": 7,', F), undefined, /^peers\.json: not JSON: .+/);
  });

  test('the top level must be an object', () => {
    rejects(() => parsePeersConfig('[]', F), undefined, 'peers.json: the top level must be an object, got an array');
  });

  test('an unknown top-level key is rejected, with a suggestion', () => {
    const doc: Record<string, unknown> = base();
    doc.peer = [];
    rejects(() => parse(doc), 'peer', 'peers.json: peer: unknown key (did you mean "peers"?); allowed: vni, port, self, peers');
    rejects(() => parse({ ...base(), mtu: 1400 }), 'mtu', /^peers\.json: mtu: unknown key; allowed:/);
  });

  test('an unknown key in self or in a peer is rejected', () => {
    rejects(() => parse({ ...base(), self: { subnet: '10.44.1.0/24', pubicIp: '1.1.1.1' } }), 'self.pubicIp', /did you mean "publicIp"/);
    const doc = base();
    doc.peers[1] = { subnet: '10.44.3.0/24', publicIp: '192.168.90.3', mac: '02:00:00:00:00:01' };
    rejects(() => parse(doc), 'peers[1].mac', /^peers\.json: peers\[1\]\.mac: unknown key/);
  });

  test('vni: an integer in 1..16777215', () => {
    rejects(() => parse({ ...base(), vni: 0 }), 'vni', 'peers.json: vni: must be in 1..16777215, got 0');
    rejects(() => parse({ ...base(), vni: 16777216 }), 'vni', 'peers.json: vni: must be in 1..16777215, got 16777216');
    rejects(() => parse({ ...base(), vni: '7' }), 'vni', 'peers.json: vni: must be an integer, got string "7"');
    rejects(() => parse({ ...base(), vni: 1.5 }), 'vni', /must be an integer/);
  });

  test('port: an integer in 1..65535', () => {
    rejects(() => parse({ ...base(), port: 0 }), 'port', 'peers.json: port: must be in 1..65535, got 0');
    rejects(() => parse({ ...base(), port: 65536 }), 'port', 'peers.json: port: must be in 1..65535, got 65536');
  });

  test('self: required, an object, with a subnet', () => {
    const { self: _self, ...noSelf } = base();
    rejects(() => parse(noSelf), 'self', /^peers\.json: self: missing/);
    rejects(() => parse({ ...base(), self: '10.44.1.0/24' }), 'self', /^peers\.json: self: self must be an object/);
    rejects(() => parse({ ...base(), self: {} }), 'self.subnet', /^peers\.json: self\.subnet: missing/);
  });

  test('self.subnet: host bits set', () => {
    rejects(() => parse({ ...base(), self: { subnet: '10.44.1.5/24' } }), 'self.subnet',
      'peers.json: self.subnet: host bits are set in "10.44.1.5/24" (did you mean 10.44.1.0/24?)');
  });

  test('a subnet that is not a CIDR, or /0', () => {
    const doc = base();
    doc.peers[0] = { subnet: '10.44.2.0', publicIp: '192.168.90.2' };
    rejects(() => parse(doc), 'peers[0].subnet', /^peers\.json: peers\[0\]\.subnet: not an IPv4 CIDR/);
    doc.peers[0] = { subnet: 24, publicIp: '192.168.90.2' };
    rejects(() => parse(doc), 'peers[0].subnet', /must be a string/);
    rejects(() => parse({ ...base(), self: { subnet: '0.0.0.0/0' }, peers: [] }), 'self.subnet', /would cover every address/);
  });

  test('peers[i].publicIp: not an IPv4 address', () => {
    const doc = base();
    doc.peers[1] = { subnet: '10.44.3.0/24', publicIp: '1.2.3' };
    rejects(() => parse(doc), 'peers[1].publicIp', 'peers.json: peers[1].publicIp: not an IPv4 address: "1.2.3"');
    doc.peers[1] = { subnet: '10.44.3.0/24' };
    rejects(() => parse(doc), 'peers[1].publicIp', /^peers\.json: peers\[1\]\.publicIp: missing/);
    doc.peers[1] = { subnet: '10.44.3.0/24', publicIp: '239.1.1.1' };
    rejects(() => parse(doc), 'peers[1].publicIp', /not a unicast IPv4 address/);
  });

  test('peers[i].vtepMac: not a MAC, or multicast', () => {
    const doc = base();
    doc.peers[0] = { subnet: '10.44.2.0/24', publicIp: '192.168.90.2', vtepMac: '02:76:c0:a8:5a' };
    rejects(() => parse(doc), 'peers[0].vtepMac', 'peers.json: peers[0].vtepMac: not a MAC address (aa:bb:cc:dd:ee:ff): "02:76:c0:a8:5a"');
    doc.peers[0] = { subnet: '10.44.2.0/24', publicIp: '192.168.90.2', vtepMac: '01:00:5e:00:00:01' };
    rejects(() => parse(doc), 'peers[0].vtepMac', /multicast/);
  });

  test('peers: required, an array of objects', () => {
    const { peers: _peers, ...noPeers } = base();
    rejects(() => parse(noPeers), 'peers', /^peers\.json: peers: missing \(use \[\] for a host with no peers yet\)/);
    rejects(() => parse({ ...base(), peers: {} }), 'peers', 'peers.json: peers: must be an array, got an object');
    rejects(() => parse({ ...base(), peers: [null] }), 'peers[0]', /^peers\.json: peers\[0\]: peers\[0\] must be an object, got null/);
  });

  test('duplicate subnets', () => {
    const doc = base();
    doc.peers.push({ subnet: '10.44.2.0/24', publicIp: '192.168.90.9' });
    rejects(() => parse(doc), 'peers[2].subnet', 'peers.json: peers[2].subnet: 10.44.2.0/24 is also peers[0].subnet');
  });

  test('overlapping subnets, between peers and with self', () => {
    const doc = base();
    doc.peers.push({ subnet: '10.44.2.128/25', publicIp: '192.168.90.9' });
    rejects(() => parse(doc), 'peers[2].subnet', 'peers.json: peers[2].subnet: 10.44.2.128/25 overlaps peers[0].subnet 10.44.2.0/24');
    const wide = base();
    wide.peers = [{ subnet: '10.44.0.0/16', publicIp: '192.168.90.9' }];
    rejects(() => parse(wide), 'peers[0].subnet', 'peers.json: peers[0].subnet: 10.44.0.0/16 overlaps self.subnet 10.44.1.0/24');
    const same = base();
    same.peers = [{ subnet: '10.44.1.0/24', publicIp: '192.168.90.9' }];
    rejects(() => parse(same), 'peers[0].subnet', 'peers.json: peers[0].subnet: 10.44.1.0/24 is also self.subnet');
  });

  test('one MAC for two public IPs', () => {
    const doc = base();
    doc.peers[1] = { subnet: '10.44.3.0/24', publicIp: '192.168.90.3', vtepMac: '02:76:c0:a8:5a:02' };
    rejects(() => parse(doc), 'peers[1].vtepMac', 'peers.json: peers[1].vtepMac: 02:76:c0:a8:5a:02 is also the MAC of peers[0] at 192.168.90.2');
  });

  test('a peer with this host\'s own public IP', () => {
    const doc = { ...base(), self: { subnet: '10.44.1.0/24', publicIp: '192.168.90.2' } };
    rejects(() => parse(doc), 'peers[0].publicIp', /192\.168\.90\.2 is this host's own/);
  });

  test('a file that cannot be read names its path', () => {
    rejects(() => loadPeersFile('/nonexistent/peers.json'), undefined, '/nonexistent/peers.json: cannot read the peers file: ENOENT');
  });
});

describe('StaticPeerSource', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'vxtap-peers-')); });
  after(() => { rmSync(dir, { recursive: true, force: true }); });

  const peer = (n: number, mac?: string): Record<string, unknown> =>
    ({ subnet: `10.44.${n}.0/24`, publicIp: `192.168.90.${n}`, ...(mac ? { vtepMac: mac } : {}) });
  const fileWith = (path: string, peers: Record<string, unknown>[], extra: Record<string, unknown> = {}): void =>
    writeFileSync(path, JSON.stringify({ vni: 7, self: { subnet: '10.44.1.0/24' }, peers, ...extra }, null, 2));
  /** Lets watch()'s first re-read and fs.watchFile's first stat happen, so that each edit below is seen once. */
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 100));
  /** Replaces the file as editors do: write a temp file, rename it over. */
  const replaceWith = (path: string, peers: Record<string, unknown>[], extra: Record<string, unknown> = {}): void => {
    fileWith(`${path}.tmp`, peers, extra);
    renameSync(`${path}.tmp`, path);
  };
  /** A peers file `name` with `peers`, and a source on it that polls every 20 ms and keeps its errors and batches. */
  const watched = (name: string, peers: Record<string, unknown>[]) => {
    const path = join(dir, name);
    fileWith(path, peers);
    const errors: ConfigError[] = [];
    const batches: PeerEvent[][] = [];
    const src = new StaticPeerSource(path, { intervalMs: 20, persistent: false, onError: (e) => errors.push(e) });
    /** Starts watching, then lets the first re-read happen (see settle). */
    const start = async (): Promise<void> => {
      src.watch((b) => batches.push(b));
      await settle();
    };
    return { path, src, errors, batches, start };
  };

  test('an invalid file at start throws', () => {
    const path = join(dir, 'bad.json');
    writeFileSync(path, '{"self": {"subnet": "10.44.1.0/24"}, "peers": [], "vnI": 3}');
    rejects(() => new StaticPeerSource(path), 'vnI', /did you mean "vni"/);
  });

  test('snapshot, then add/remove/change batches as the file changes', async () => {
    const { path, src, errors, batches, start } = watched('watch.json', [peer(2)]);
    try {
      // source: the file and the line the peer's object starts on (fileWith indents by 2: line 7).
      assert.deepEqual(await src.snapshot(), [{ subnet: '10.44.2.0/24', publicIp: '192.168.90.2', vtepMac: '02:76:c0:a8:5a:02', source: { kind: 'file', path, line: 7 } }]);
      await start();

      fileWith(path, [peer(2), peer(3)]);
      await waitFor('the added batch', () => batches.length === 1, 5000, 10);
      assert.deepEqual(batches[0], [{ type: 'added', peer: { subnet: '10.44.3.0/24', publicIp: '192.168.90.3', vtepMac: '02:76:c0:a8:5a:03', source: { kind: 'file', path, line: 11 } } }]);

      replaceWith(path, [peer(3)]);
      await waitFor('the removed batch', () => batches.length === 2, 5000, 10);
      assert.deepEqual(batches[1], [{ type: 'removed', peer: { subnet: '10.44.2.0/24', publicIp: '192.168.90.2', vtepMac: '02:76:c0:a8:5a:02', source: { kind: 'file', path, line: 7 } } }]);

      fileWith(path, [peer(3, '02:00:00:00:00:33'), peer(4)]);
      await waitFor('the change batch', () => batches.length === 3, 5000, 10);
      assert.deepEqual(batches[2]!.map((e) => `${e.type} ${e.peer.subnet} ${e.peer.vtepMac}`), [
        'removed 10.44.3.0/24 02:76:c0:a8:5a:03',
        'added 10.44.3.0/24 02:00:00:00:00:33',
        'added 10.44.4.0/24 02:76:c0:a8:5a:04',
      ]);
      assert.deepEqual((await src.snapshot()).map((p) => p.subnet), ['10.44.3.0/24', '10.44.4.0/24']);
      assert.deepEqual(errors, []);
    } finally {
      await src.close();
    }
  });

  test('a file that turns invalid is reported and the old peers stay', async () => {
    const { path, src, errors, batches, start } = watched('invalid.json', [peer(2)]);
    try {
      await start();
      writeFileSync(path, '{"self": {"subnet": "10.44.1.0/24"}, "peers": [{"subnet": "10.44.2.0/24", "publicIp": "1.2.3"}]}');
      await waitFor('the error', () => errors.length === 1, 5000, 10);
      assert.equal(errors[0]!.message, `${path}: peers[0].publicIp: not an IPv4 address: "1.2.3"`);
      assert.deepEqual((await src.snapshot()).map((p) => p.subnet), ['10.44.2.0/24']);

      rmSync(path);
      await waitFor('the error for a deleted file', () => errors.length === 2, 5000, 10);
      assert.match(errors[1]!.message, /cannot read the peers file: ENOENT/);

      // Valid again: the diff is against the last valid state.
      fileWith(path, [peer(3)]);
      await waitFor('the batch', () => batches.length === 1, 5000, 10);
      assert.deepEqual(batches[0]!.map((e) => `${e.type} ${e.peer.subnet}`), ['removed 10.44.2.0/24', 'added 10.44.3.0/24']);
    } finally {
      await src.close();
    }
  });

  test('a change to vni or self is reported and the whole edit ignored', async () => {
    const { path, src, errors, batches, start } = watched('fixed.json', [peer(2)]);
    try {
      await start();
      fileWith(path, [peer(2), peer(3)], { vni: 8 });
      await waitFor('the error', () => errors.length === 1, 5000, 10);
      assert.equal(errors[0]!.message, `${path}: vni changed from 7 to 8: restart vxtap to apply it; this edit is ignored`);
      assert.equal(errors[0]!.field, 'vni');
      assert.equal(src.config.vni, 7);
      assert.equal((await src.snapshot()).length, 1);
      assert.deepEqual(batches, []);
    } finally {
      await src.close();
    }
  });

  test('reload() re-reads now and returns the batch (for a SIGHUP handler)', async () => {
    const path = join(dir, 'reload.json');
    fileWith(path, []);
    const src = new StaticPeerSource(path, { persistent: false });
    try {
      fileWith(path, [peer(5)]);
      assert.deepEqual(src.reload().map((e) => `${e.type} ${e.peer.subnet}`), ['added 10.44.5.0/24']);
      assert.deepEqual(src.reload(), []);
    } finally {
      await src.close();
    }
  });

  test('an edit between snapshot() and watch() is not lost', async () => {
    const path = join(dir, 'race.json');
    fileWith(path, [peer(2)]);
    const src = new StaticPeerSource(path, { intervalMs: 5000, persistent: false });
    const batches: PeerEvent[][] = [];
    try {
      await src.snapshot();
      fileWith(path, [peer(2), peer(6)]);
      src.watch((b) => batches.push(b));
      await waitFor('the batch', () => batches.length === 1, 2000, 10);
      assert.deepEqual(batches[0]!.map((e) => `${e.type} ${e.peer.subnet}`), ['added 10.44.6.0/24']);
    } finally {
      await src.close();
    }
  });

  test('after close() no more batches', async () => {
    const path = join(dir, 'closed.json');
    fileWith(path, [peer(2)]);
    const src = new StaticPeerSource(path, { intervalMs: 20, persistent: false });
    const batches: PeerEvent[][] = [];
    src.watch((b) => batches.push(b));
    await src.close();
    fileWith(path, [peer(2), peer(3)]);
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(batches, []);
    assert.throws(() => src.watch(() => {}), /closed/);
  });
});

test('origins: an IPv6-only peer before the others does not shift their lines (each record keeps its own index in the file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-peers-lines-'));
  try {
    const path = join(dir, 'peers.json');
    writeFileSync(path, [
      '{', //                                                                       1
      '  "self": {"subnet": "10.44.1.0/24", "subnet6": "fd00:44:1::/64"},', //      2
      '  "peers": [', //                                                            3
      '    {"subnet6": "fd00:44:9::/64"},', //                                      4
      '    {"subnet": "10.44.2.0/24", "publicIp": "192.168.90.2"},', //             5
      '    {"subnet6": "fd00:44:8::/64"},', //                                      6
      '    {"subnet": "10.44.3.0/24", "publicIp": "192.168.90.3"}', //              7
      '  ]', //                                                                     8
      '}', //                                                                       9
    ].join('\n'));
    const c = loadPeersFile(path);
    assert.deepEqual(c.peers.map((p) => `${p.subnet} ${p.source?.kind === 'file' ? p.source.line : '-'}`), ['10.44.2.0/24 5', '10.44.3.0/24 7']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
