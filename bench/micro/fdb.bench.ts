/**
 * Suite 2, the FDB: `Fdb.lookup(mac)` with 10, 1,000 and 100,000 entries,
 * hit and miss (one op = one lookup). flannel makes one entry per host, so
 * 10 and 1,000 are real clusters; 100,000 shows how the Map scales.
 *
 * MACs are random locally administered addresses (a fixed seed, so every run
 * looks the same table up). Each op takes the next of 4,096 keys, so a large
 * table is not read from one hot cache line: hits are entries in a shuffled
 * order, misses are keys no entry has. The baseline case does the key
 * rotation alone, to show what of a few nanoseconds is the loop.
 */
import { add } from 'benny';
import { Fdb } from '../../src/switch/fdb';
import { main, runSuite, sink, type Case } from './common';

export const SUITE = 'fdb';
export const SIZES = [10, 1_000, 100_000] as const;
const KEYS = 4096;
const MASK = KEYS - 1;

/** mulberry32: a small seeded PRNG, so that tables are the same from run to run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A unicast, locally administered MAC key (first byte 0x02, 0x06, ...: bit 1 set, bit 0 clear). */
function randomMac(rand: () => number): number {
  const first = ((Math.floor(rand() * 64) << 2) | 0x02) & 0xff;
  return first * 2 ** 40 + Math.floor(rand() * 2 ** 40);
}

interface Table {
  fdb: Fdb;
  hits: Float64Array;
  misses: Float64Array;
}

function table(size: number): Table {
  const rand = prng(size);
  const fdb = new Fdb();
  const macs: number[] = [];
  while (fdb.size < size) {
    const mac = randomMac(rand);
    if (fdb.lookup(mac) !== undefined) continue;
    // VTEPs 10.0.0.0/8-ish, one per entry, port 8472: the values do not matter to a lookup.
    fdb.set(mac, (0x0a000000 + fdb.size) >>> 0, 8472, 0);
    macs.push(mac);
  }
  const hits = new Float64Array(KEYS);
  for (let i = 0; i < KEYS; i++) hits[i] = macs[Math.floor(rand() * size)]!;
  const misses = new Float64Array(KEYS);
  for (let i = 0; i < KEYS;) {
    const mac = randomMac(rand);
    if (fdb.lookup(mac) === undefined) misses[i++] = mac;
  }
  return { fdb, hits, misses };
}

function lookups(fdb: Fdb, keys: Float64Array, hit: boolean): () => void {
  let i = 0;
  return () => {
    const e = fdb.lookup(keys[i++ & MASK]!);
    if ((e !== undefined) !== hit) throw new Error(`FDB ${hit ? 'hit' : 'miss'} case met a ${hit ? 'miss' : 'hit'}`);
    if (e !== undefined) sink.n += e.port;
  };
}

export function cases(): Case[] {
  const all: Case[] = [];
  const keys = table(SIZES[0]).hits;
  let i = 0;
  all.push(add('baseline: key rotation, no lookup', () => { sink.n += keys[i++ & MASK]! === 0 ? 1 : 0; }));
  for (const size of SIZES) {
    const t = table(size);
    const n = size.toLocaleString('en-US');
    all.push(add(`${n} entries: hit`, () => lookups(t.fdb, t.hits, true)));
    all.push(add(`${n} entries: miss`, () => lookups(t.fdb, t.misses, false)));
  }
  return all;
}

export function run(): Promise<unknown> {
  return runSuite(SUITE, 'fdb: Fdb.lookup, one lookup per op', 'fast', cases());
}

if (require.main === module) main(run);
