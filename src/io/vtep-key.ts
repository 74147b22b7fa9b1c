/**
 * VTEP keys: one number per VTEP address, whatever its family, so that the
 * FDB, the flood list, the peer table and the endpoint table key a VTEP the
 * same way for IPv4 and IPv6 (issue #13).
 *
 *   IPv4: the address as a host-order u32 (0 .. 2^32-1), as before: the
 *         IPv4 hot path reads it from the sender's record (wordsIpv4) and
 *         nothing about it changed.
 *   IPv6: V6_KEY_BASE + n, n a small integer handed out the first time the
 *         control plane names that address (vtepKey). Never per frame, never
 *         from traffic: the decap path only looks a sender's address up
 *         (recordKey6), so a flood of spoofed sources grows nothing. An
 *         unknown IPv6 sender gets V6_UNKNOWN, which no table holds.
 *
 * The registry is process-wide on purpose: every table of a switch must
 * agree on a key, and a key only ever means one address. It holds one entry
 * per VTEP address the configuration has named (a few per peer at most).
 */
import { formatIpv4, isIpv4, parseIpv4 } from '../wire/addr';
import { formatIpv6, isIpv6, parseIpv6 } from '../control/ip6';

/** IPv6 keys start here: above every IPv4 u32, below 2^53 with room (key * 65536 + port stays exact). */
export const V6_KEY_BASE = 2 ** 32;
/** The key of an IPv6 sender no configuration named. */
export const V6_UNKNOWN = V6_KEY_BASE - 1 + 2 ** 32;

/** The 16 bytes per IPv6 key n, as four network-order words read little-endian (the way names32 reads them). */
let words6 = new Uint32Array(4 * 16);
let count6 = 0;
const byText6 = new Map<string, number>();
/** IPv6 key per hash of its four words (collisions chain in bucket arrays, checked word by word). */
const byHash6 = new Map<number, number[]>();

function hash4(a: number, b: number, c: number, d: number): number {
  // Any mix works (the words are compared after); this one spreads the low (interface id) bits.
  return (Math.imul(a ^ (d >>> 7), 0x9e3779b1) ^ Math.imul(b ^ c, 0x85ebca6b) ^ d) | 0;
}

/** True for an IPv6 VTEP key. */
export function isV6Key(key: number): boolean {
  return key >= V6_KEY_BASE;
}

/** The key of an address in text (IPv4 or IPv6). Throws RangeError for anything else. */
export function vtepKey(text: string): number {
  if (isIpv4(text)) return parseIpv4(text);
  if (!isIpv6(text)) throw new RangeError(`not an IPv4 or IPv6 address: ${JSON.stringify(text)}`);
  const canon = formatIpv6(parseIpv6(text));
  const have = byText6.get(canon);
  if (have !== undefined) return have;
  const n = count6++;
  if (4 * count6 > words6.length) {
    const w = new Uint32Array(words6.length * 2);
    w.set(words6);
    words6 = w;
  }
  const bytes = Buffer.alloc(16);
  let v = parseIpv6(canon);
  for (let i = 15; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  for (let k = 0; k < 4; k++) words6[4 * n + k] = bytes.readUInt32LE(4 * k);
  const key = V6_KEY_BASE + n;
  byText6.set(canon, key);
  const h = hash4(words6[4 * n]!, words6[4 * n + 1]!, words6[4 * n + 2]!, words6[4 * n + 3]!);
  const bucket = byHash6.get(h);
  if (bucket === undefined) byHash6.set(h, [key]);
  else bucket.push(key);
  return key;
}

/** The 16 address bytes of an IPv6 key into buf[off..). */
export function writeKey6(key: number, buf: Buffer, off: number): void {
  const n = key - V6_KEY_BASE;
  if (!Number.isInteger(n) || n < 0 || n >= count6) throw new RangeError(`not a known IPv6 VTEP key: ${key}`);
  for (let k = 0; k < 4; k++) buf.writeUInt32LE(words6[4 * n + k]!, off + 4 * k);
}

/**
 * The key of the IPv6 address whose four words start at words[at] (a
 * record's address, read as names32 reads it), or V6_UNKNOWN. No allocation:
 * the decap path calls it per datagram from an IPv6 VTEP.
 */
export function wordsKey6(words: Uint32Array, at: number): number {
  const a = words[at]!, b = words[at + 1]!, c = words[at + 2]!, d = words[at + 3]!;
  const bucket = byHash6.get(hash4(a, b, c, d));
  if (bucket === undefined) return V6_UNKNOWN;
  for (let j = 0; j < bucket.length; j++) {
    const key = bucket[j]!;
    const o = 4 * (key - V6_KEY_BASE);
    if (words6[o] === a && words6[o + 1] === b && words6[o + 2] === c && words6[o + 3] === d) return key;
  }
  return V6_UNKNOWN;
}

/** The address of a key in text: '192.168.90.2', 'fd00::2', or '?' for V6_UNKNOWN. */
export function formatVtep(key: number): string {
  if (!isV6Key(key)) return formatIpv4(key);
  const n = key - V6_KEY_BASE;
  if (n >= count6) return '?';
  let v = 0n;
  const b = Buffer.alloc(16);
  writeKey6(key, b, 0);
  for (let i = 0; i < 16; i++) v = (v << 8n) | BigInt(b[i]!);
  return formatIpv6(v);
}

/** "192.168.90.2:4789" or "[fd00::2]:4789". */
export function formatVtepPort(key: number, port: number): string {
  return isV6Key(key) ? `[${formatVtep(key)}]:${port}` : `${formatVtep(key)}:${port}`;
}
