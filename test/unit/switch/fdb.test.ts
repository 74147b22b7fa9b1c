import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fdb } from '../../../src/switch/fdb';
import { macKeyFromString, parseIpv4 } from '../../../src/wire/addr';

const A = macKeyFromString('02:76:c0:a8:5a:02');
const B = macKeyFromString('02:76:c0:a8:5a:03');
const V1 = parseIpv4('192.168.90.2');
const V2 = parseIpv4('192.168.90.3');

test('lookup hits the VTEP of a static entry and misses otherwise', () => {
  const fdb = new Fdb();
  fdb.set(A, V1, 4789);
  assert.equal(fdb.lookup(A)?.vtep, V1);
  assert.equal(fdb.lookup(A)?.port, 4789);
  assert.equal(fdb.lookup(B), undefined);
  assert.deepEqual(fdb.describe(fdb.lookup(A)!), { mac: '02:76:c0:a8:5a:02', vtep: '192.168.90.2', port: 4789, kind: 'static', updatedAt: fdb.lookup(A)!.updatedAt });
});

test('knowsVtep follows the entries that point at a VTEP', () => {
  const fdb = new Fdb();
  fdb.set(A, V1, 4789);
  fdb.set(B, V1, 4789);
  assert.equal(fdb.knowsVtep(V1), true);
  fdb.delete(A);
  assert.equal(fdb.knowsVtep(V1), true, 'B still points at V1');
  fdb.set(B, V2, 4789); // B moves: V1 is no longer known
  assert.equal(fdb.knowsVtep(V1), false);
  assert.equal(fdb.knowsVtep(V2), true);
  assert.equal(fdb.delete(B), true);
  assert.equal(fdb.delete(B), false);
  assert.equal(fdb.knowsVtep(V2), false);
  assert.equal(fdb.size, 0);
});

test('a learned entry never replaces a static one, and refreshes itself', () => {
  const fdb = new Fdb();
  fdb.set(A, V1, 4789, 1);
  assert.equal(fdb.learn(A, V2, 4789, 2), false);
  assert.equal(fdb.lookup(A)?.vtep, V1);
  assert.equal(fdb.learn(B, V2, 4789, 3), true);
  assert.equal(fdb.lookup(B)?.kind, 'learned');
  assert.equal(fdb.learn(B, V2, 4789, 9), true);
  assert.equal(fdb.lookup(B)?.updatedAt, 9);
});

test('the remembered last hit never outlives a change', () => {
  const fdb = new Fdb();
  fdb.set(A, V1, 4789);
  assert.equal(fdb.lookup(A)?.vtep, V1);
  assert.equal(fdb.lookup(A)?.vtep, V1, 'the same key again (the remembered hit)');
  assert.equal(fdb.knowsVtep(V1), true);
  fdb.set(A, V2, 4789); // replaced: the next lookup sees the new VTEP
  assert.equal(fdb.lookup(A)?.vtep, V2);
  assert.equal(fdb.knowsVtep(V1), false, 'V1 lost its last entry');
  assert.equal(fdb.knowsVtep(V2), true);
  fdb.delete(A);
  assert.equal(fdb.lookup(A), undefined);
  assert.equal(fdb.knowsVtep(V2), false);
  assert.equal(fdb.lookup(B), undefined, 'a miss is not remembered as a hit');
  fdb.set(B, V1, 4789);
  assert.equal(fdb.lookup(B)?.vtep, V1);
});
