/**
 * The endpoint table: every VTEP the switch sends to, as a socket address
 * record in one Buffer, indexed by a small integer (after wireguard-go's
 * conn.Endpoint, which hides the address family from the device loop). The
 * switch owns the table; the FDB, the flood list and the peer table keep an
 * index into it, the send lists carry indices, and the addon points each
 * message's msg_name at the record itself (native/endpoints.h names the same
 * layout). No IPv4-as-u32 crosses into the addon: an IPv6 VTEP is another
 * record layout in the same table, not another hot path.
 *
 * A record is EP_RECORD (28) bytes: the size of struct sockaddr_in6, the
 * largest address a VXLAN VTEP has. Linux's layouts, which the kernel reads
 * as they are (family in host byte order, little-endian on the machines we
 * build for; port and address in network order):
 *
 *   AF_INET (2), what intern() writes now (struct sockaddr_in, 16 bytes):
 *     0  family   u16 host order
 *     2  port     u16 network order
 *     4  address  4 bytes network order
 *     8  zero     8 bytes (sin_zero), then 12 bytes unused
 *   AF_INET6 (10), for the issue that brings IPv6 VTEPs (struct sockaddr_in6, 28 bytes):
 *     0  family   u16 host order
 *     2  port     u16 network order
 *     4  flowinfo u32 network order
 *     8  address  16 bytes network order
 *     24 scope id u32 host order
 *
 * The same record is what a datagram port fills per received datagram with
 * its sender (FrameBatch.names); senderIpv4() reads the IPv4 key back.
 *
 * Entries are reference-counted: intern() of an address:port already held
 * returns its index and counts one more reference; release() drops one, and
 * the index is reused once none is left. The control plane and learning
 * intern and release (between batches, or once per new MAC): never per frame.
 */
import { formatIpv4 } from '../wire/addr';
import { isV6Key, wordsKey6, writeKey6 } from './vtep-key';

/** Bytes per record: sizeof(struct sockaddr_in6). */
export const EP_RECORD = 28;
/** Field offsets in a record (native/endpoints.h: kEp*). */
export const EP_FAMILY = 0;
export const EP_PORT = 2;
export const EP_ADDR4 = 4;
export const EP_FLOWINFO6 = 4;
export const EP_ADDR6 = 8;
export const EP_SCOPE6 = 24;
/** Linux's address families. */
export const AF_INET = 2;
export const AF_INET6 = 10;

/** The IPv4 address (host-order u32) in the record at buf[off..): the sender's key for the FDB and the peer table. */
export function recordIpv4(buf: Buffer, off: number): number {
  return ((buf[off + EP_ADDR4]! << 24) | (buf[off + EP_ADDR4 + 1]! << 16) | (buf[off + EP_ADDR4 + 2]! << 8) | buf[off + EP_ADDR4 + 3]!) >>> 0;
}

/** Records and the IPv4 address in 32-bit words: a record is 7 words, its address word 1. */
export const EP_WORDS = EP_RECORD / 4;
export const EP_ADDR4_WORD = EP_ADDR4 / 4;

/**
 * recordIpv4 for the hot path: the address of record i read as one word of
 * a Uint32Array over the records (FrameBatch.names32), then byte-swapped
 * from network order. One typed-array load instead of four byte loads, so
 * decap reads its sender's key at the cost the u32 array it replaces had.
 * Assumes a little-endian host, as the records' family field does.
 */
export function wordsIpv4(words: Uint32Array, i: number): number {
  const x = words[i * EP_WORDS + EP_ADDR4_WORD]!;
  return ((x << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24)) >>> 0;
}

/**
 * The sender's VTEP key (io/vtep-key.ts) of record i, for the decap loop:
 * wordsIpv4 for an AF_INET record (one more word load and compare than
 * before IPv6), the IPv6 key looked up without allocation for an AF_INET6 one.
 */
export function wordsVtepKey(words: Uint32Array, i: number): number {
  const at = i * EP_WORDS;
  if ((words[at]! & 0xffff) !== AF_INET6) return wordsIpv4(words, i);
  return wordsKey6(words, at + EP_ADDR6_WORD);
}

/** The UDP port in the record at buf[off..). */
export function recordPort(buf: Buffer, off: number): number {
  return (buf[off + EP_PORT]! << 8) | buf[off + EP_PORT + 1]!;
}

/** The address family in the record at buf[off..) (0: an empty record). */
export function recordFamily(buf: Buffer, off: number): number {
  return buf[off + EP_FAMILY]! | (buf[off + EP_FAMILY + 1]! << 8);
}

/** Writes an AF_INET record for ipv4 (host-order u32) : port at buf[off..), the rest zero. */
export function writeIpv4Record(buf: Buffer, off: number, ipv4: number, port: number): void {
  buf.fill(0, off, off + EP_RECORD);
  buf[off + EP_FAMILY] = AF_INET & 0xff;
  buf[off + EP_FAMILY + 1] = AF_INET >>> 8;
  buf[off + EP_PORT] = port >>> 8;
  buf[off + EP_PORT + 1] = port & 0xff;
  buf[off + EP_ADDR4] = ipv4 >>> 24;
  buf[off + EP_ADDR4 + 1] = (ipv4 >>> 16) & 0xff;
  buf[off + EP_ADDR4 + 2] = (ipv4 >>> 8) & 0xff;
  buf[off + EP_ADDR4 + 3] = ipv4 & 0xff;
}

/** Writes an AF_INET6 record for the IPv6 VTEP key `key6` (io/vtep-key.ts) : port at buf[off..), the rest (flowinfo, scope id) zero. */
export function writeIpv6Record(buf: Buffer, off: number, key6: number, port: number): void {
  buf.fill(0, off, off + EP_RECORD);
  buf[off + EP_FAMILY] = AF_INET6 & 0xff;
  buf[off + EP_FAMILY + 1] = AF_INET6 >>> 8;
  buf[off + EP_PORT] = port >>> 8;
  buf[off + EP_PORT + 1] = port & 0xff;
  writeKey6(key6, buf, off + EP_ADDR6);
}

/** The 32-bit word of a record's family field (family in its low 16 bits, the port above): names32[i * EP_WORDS]. */
export const EP_FAMILY_WORD = 0;
/** The first of the four address words of an AF_INET6 record. */
export const EP_ADDR6_WORD = EP_ADDR6 / 4;

/** "192.168.90.2:4789" for the record at buf[off..); "-" for an empty one. */
export function describeRecord(buf: Buffer, off: number): string {
  const family = recordFamily(buf, off);
  if (family === AF_INET) return `${formatIpv4(recordIpv4(buf, off))}:${recordPort(buf, off)}`;
  if (family === AF_INET6) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(((buf[off + EP_ADDR6 + i]! << 8) | buf[off + EP_ADDR6 + i + 1]!).toString(16));
    return `[${groups.join(':')}]:${recordPort(buf, off)}`;
  }
  return '-';
}

export class EndpointTable {
  /** Record i at buf[i * EP_RECORD, +EP_RECORD). Replaced (a larger copy) when the table grows: read it per call, never keep it. */
  buf: Buffer;
  /** References per index; 0: free. */
  private refs: Int32Array;
  /** The VTEP key (io/vtep-key.ts) per index. */
  private keys: Float64Array;
  /** Index per VTEP key:port (key * 65536 + port; exact below 2^53). */
  private readonly byKey = new Map<number, number>();
  /** Free indices below `used`, reused first. */
  private readonly free: number[] = [];
  /** Indices 0 .. used-1 have been handed out at least once. */
  private used = 0;

  constructor(capacity = 16) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`endpoint table capacity must be >= 1, got ${capacity}`);
    // allocUnsafeSlow: a Buffer of our own (byteOffset 0), never a view into Node's shared pool.
    this.buf = Buffer.allocUnsafeSlow(capacity * EP_RECORD).fill(0);
    this.refs = new Int32Array(capacity);
    this.keys = new Float64Array(capacity);
  }

  /** Entries held (with at least one reference). */
  get size(): number {
    return this.byKey.size;
  }

  /** Records the table has room for before it grows. */
  get capacity(): number {
    return this.refs.length;
  }

  /**
   * The index of VTEP key : port, interned with one more reference. A key
   * is an IPv4 address (host-order u32) or an IPv6 VTEP key (io/vtep-key.ts),
   * which gets an AF_INET6 record.
   */
  intern(ipv4: number, port: number): number {
    if (!Number.isInteger(ipv4) || ipv4 < 0 || (ipv4 > 0xffffffff && !isV6Key(ipv4))) throw new RangeError(`endpoint: bad VTEP key ${ipv4}`);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`endpoint: bad UDP port ${port}`);
    const key = ipv4 * 65536 + port;
    const at = this.byKey.get(key);
    if (at !== undefined) {
      this.refs[at]!++;
      return at;
    }
    const i = this.free.length > 0 ? this.free.pop()! : this.used++;
    if (i >= this.refs.length) this.grow();
    if (isV6Key(ipv4)) writeIpv6Record(this.buf, i * EP_RECORD, ipv4, port);
    else writeIpv4Record(this.buf, i * EP_RECORD, ipv4, port);
    this.refs[i] = 1;
    this.keys[i] = ipv4;
    this.byKey.set(key, i);
    return i;
  }

  /** Drops one reference to `index`; the last one frees the index (its record is cleared). */
  release(index: number): void {
    if (!this.held(index)) throw new RangeError(`endpoint ${index} is not held`);
    if (--this.refs[index]! > 0) return;
    const off = index * EP_RECORD;
    this.byKey.delete(this.keys[index]! * 65536 + recordPort(this.buf, off));
    this.buf.fill(0, off, off + EP_RECORD);
    this.free.push(index);
  }

  /** The index of ipv4:port if held, else -1 (no reference taken). */
  find(ipv4: number, port: number): number {
    return this.byKey.get(ipv4 * 65536 + port) ?? -1;
  }

  /** True when `index` has at least one reference. */
  held(index: number): boolean {
    return Number.isInteger(index) && index >= 0 && index < this.refs.length && this.refs[index]! > 0;
  }

  /** References to `index` (0: free). */
  refCount(index: number): number {
    return index >= 0 && index < this.refs.length ? this.refs[index]! : 0;
  }

  /** The IPv4 address of an AF_INET entry, host-order u32. */
  ipv4(index: number): number {
    return recordIpv4(this.buf, index * EP_RECORD);
  }

  /** The VTEP key of a held entry (its IPv4 u32, or its IPv6 key). */
  key(index: number): number {
    return this.keys[index]!;
  }

  port(index: number): number {
    return recordPort(this.buf, index * EP_RECORD);
  }

  family(index: number): number {
    return recordFamily(this.buf, index * EP_RECORD);
  }

  /** "192.168.90.2:4789", for logs and traces. */
  describe(index: number): string {
    if (index < 0 || index >= this.refs.length) return '-';
    return describeRecord(this.buf, index * EP_RECORD);
  }

  private grow(): void {
    const n = this.refs.length * 2;
    const buf = Buffer.allocUnsafeSlow(n * EP_RECORD).fill(0);
    this.buf.copy(buf);
    const refs = new Int32Array(n);
    refs.set(this.refs);
    const keys = new Float64Array(n);
    keys.set(this.keys);
    this.keys = keys;
    this.buf = buf;
    this.refs = refs;
  }
}
