/**
 * The pcapng file format (draft-ietf-opsawg-pcapng; what Wireshark and
 * `tcpdump -w` with a pcapng build write). Pure functions over bytes, like
 * pcap.ts: the caller reads and writes the file. No maintained npm package
 * writes pcapng (npm has `pcap-ng-parser` 1.0.0, a reader only), so this is
 * our own, limited to what vxtap writes and reads:
 *
 * A file is a sequence of blocks; every block is
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Block Type (0-3)                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                Block Total Length (4-7)                       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * /                    Block Body (variable, padded to 32 bits)   /
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                Block Total Length (again)                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * and options, where a block has them, are {code u16, length u16, value
 * padded to 32 bits}, ended by opt_endofopt (code 0, length 0).
 *
 * Section Header Block (type 0x0A0D0D0A), body:
 *   8  Byte-Order Magic 0x1A2B3C4D (in the writer's order: tells the reader)
 *  12  Major Version = 1          14  Minor Version = 0
 *  16  Section Length (64 bits), -1 = not given
 *  24  options (shb_userappl = 4)
 *
 * Interface Description Block (type 1), body:
 *   8  LinkType (16 bits)         10  reserved = 0
 *  12  SnapLen
 *  16  options: if_name = 2, if_description = 3, if_tsresol = 9 (one byte:
 *      n means 10^-n s; high bit set means 2^-n; absent means 6)
 *
 * Enhanced Packet Block (type 6), body:
 *   8  Interface ID (the IDB's index in the section, from 0)
 *  12  Timestamp, upper 32 bits   16  Timestamp, lower 32 bits (units of if_tsresol)
 *  20  Captured Packet Length     24  Original Packet Length
 *  28  Packet Data, padded to 32 bits
 *   …  options: opt_comment = 1 (UTF-8), epb_flags = 2 (32 bits; bits 0-1 the
 *      direction: 0 unknown, 1 inbound, 2 outbound)
 *
 * Writers here write little-endian, microsecond timestamps (if_tsresol = 6).
 * The reader takes either byte order (per section) and any if_tsresol, and
 * skips block types it does not know (as the draft asks).
 */
import { WireError } from '../errors';
import { readPcap } from './pcap';

export const BLOCK_SHB = 0x0a0d0d0a;
export const BLOCK_IDB = 0x00000001;
export const BLOCK_EPB = 0x00000006;
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const VERSION_MAJOR = 1;
export const VERSION_MINOR = 0;

/** Offsets common to every block. */
export const blockField = {
  TYPE: 0,
  TOTAL_LEN: 4,
  BODY: 8,
} as const;
/** The type, the length at the front and the length again at the end. */
export const BLOCK_OVERHEAD = 12;

export const shbField = {
  BYTE_ORDER: 8,
  VERSION_MAJOR: 12,
  VERSION_MINOR: 14,
  SECTION_LEN: 16,
  OPTIONS: 24,
} as const;

export const idbField = {
  LINKTYPE: 8,
  RESERVED: 10,
  SNAPLEN: 12,
  OPTIONS: 16,
} as const;

export const epbField = {
  INTERFACE_ID: 8,
  TS_HIGH: 12,
  TS_LOW: 16,
  CAP_LEN: 20,
  ORIG_LEN: 24,
  DATA: 28,
} as const;

export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
export const SHB_USERAPPL = 4;
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const IF_TSRESOL = 9;
export const EPB_FLAGS = 2;

/** epb_flags bits 0-1: the packet's direction, seen from its interface. */
export const DIR_UNKNOWN = 0;
export const DIR_INBOUND = 1;
export const DIR_OUTBOUND = 2;
export const DIR_MASK = 3;

/** Option header: code (16) + length (16). */
const OPT_HEADER_LEN = 4;
/** opt_endofopt: code 0, length 0. */
const END_OPT_LEN = 4;
/** epb_flags: header + 4 bytes of value. */
const FLAGS_OPT_LEN = OPT_HEADER_LEN + 4;
const TWO_32 = 0x1_0000_0000;

export function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** One option's bytes on disk: header + value padded. */
function optionLen(valueLen: number): number {
  return OPT_HEADER_LEN + pad4(valueLen);
}

function writeOption(buf: Buffer, off: number, code: number, value: Uint8Array): number {
  buf.writeUInt16LE(code, off);
  buf.writeUInt16LE(value.length, off + 2);
  buf.set(value, off + OPT_HEADER_LEN);
  buf.fill(0, off + OPT_HEADER_LEN + value.length, off + optionLen(value.length));
  return optionLen(value.length);
}

/** A block with `body` bytes after the 8-byte block header: the buffer, type and both lengths written. */
function block(type: number, bodyLen: number): Buffer {
  const total = BLOCK_OVERHEAD + bodyLen;
  const b = Buffer.alloc(total);
  b.writeUInt32LE(type, blockField.TYPE);
  b.writeUInt32LE(total, blockField.TOTAL_LEN);
  b.writeUInt32LE(total, total - 4);
  return b;
}

/** Options as a list of {code, value}, with their on-disk length (opt_endofopt included when any). */
function optionsLen(opts: readonly (readonly [number, Uint8Array])[]): number {
  if (opts.length === 0) return 0;
  return opts.reduce((n, [, v]) => n + optionLen(v.length), 0) + END_OPT_LEN;
}

function writeOptions(buf: Buffer, off: number, opts: readonly (readonly [number, Uint8Array])[]): number {
  if (opts.length === 0) return 0;
  let at = off;
  for (const [code, v] of opts) at += writeOption(buf, at, code, v);
  buf.writeUInt32LE(0, at);
  return at + END_OPT_LEN - off;
}

/** A Section Header Block, little-endian, section length not given. */
export function sectionHeader(userAppl?: string): Buffer {
  const opts: [number, Uint8Array][] = userAppl !== undefined ? [[SHB_USERAPPL, Buffer.from(userAppl, 'utf8')]] : [];
  const b = block(BLOCK_SHB, shbField.OPTIONS - blockField.BODY + optionsLen(opts));
  b.writeUInt32LE(BYTE_ORDER_MAGIC, shbField.BYTE_ORDER);
  b.writeUInt16LE(VERSION_MAJOR, shbField.VERSION_MAJOR);
  b.writeUInt16LE(VERSION_MINOR, shbField.VERSION_MINOR);
  // -1: the writer does not know the section's length (it is being written).
  b.writeInt32LE(-1, shbField.SECTION_LEN);
  b.writeInt32LE(-1, shbField.SECTION_LEN + 4);
  writeOptions(b, shbField.OPTIONS, opts);
  return b;
}

export interface InterfaceSpec {
  linktype: number;
  snaplen: number;
  name: string;
  description?: string;
  /** Written as if_tsresol; the writers here use 6 (microseconds). */
  tsresol?: number;
}

/** An Interface Description Block. */
export function interfaceDescription(spec: InterfaceSpec): Buffer {
  const opts: [number, Uint8Array][] = [[IF_NAME, Buffer.from(spec.name, 'utf8')]];
  if (spec.description !== undefined) opts.push([IF_DESCRIPTION, Buffer.from(spec.description, 'utf8')]);
  opts.push([IF_TSRESOL, Uint8Array.of(spec.tsresol ?? 6)]);
  const b = block(BLOCK_IDB, idbField.OPTIONS - blockField.BODY + optionsLen(opts));
  b.writeUInt16LE(spec.linktype, idbField.LINKTYPE);
  b.writeUInt32LE(spec.snaplen >>> 0, idbField.SNAPLEN);
  writeOptions(b, idbField.OPTIONS, opts);
  return b;
}

/**
 * The length of an Enhanced Packet Block holding capLen bytes, with an
 * epb_flags option when withFlags, and an opt_comment of `commentLen` bytes
 * when that is not 0.
 */
export function epbLen(capLen: number, withFlags: boolean, commentLen: number): number {
  const opts = (withFlags ? FLAGS_OPT_LEN : 0) + (commentLen > 0 ? optionLen(commentLen) : 0);
  return BLOCK_OVERHEAD + (epbField.DATA - blockField.BODY) + pad4(capLen) + (opts > 0 ? opts + END_OPT_LEN : 0);
}

/**
 * Writes an Enhanced Packet Block's header at buf[off] for a packet whose
 * capLen bytes the caller puts at buf[off + epbField.DATA]; then call
 * writeEpbTail. tsUs: microseconds since the epoch (the IDB says
 * if_tsresol = 6). No allocation. Returns off + epbField.DATA.
 */
export function writeEpbHead(buf: Buffer, off: number, total: number, ifId: number, tsUs: number, capLen: number, origLen: number): number {
  buf.writeUInt32LE(BLOCK_EPB, off + blockField.TYPE);
  buf.writeUInt32LE(total, off + blockField.TOTAL_LEN);
  buf.writeUInt32LE(ifId, off + epbField.INTERFACE_ID);
  buf.writeUInt32LE(Math.floor(tsUs / TWO_32) >>> 0, off + epbField.TS_HIGH);
  buf.writeUInt32LE(tsUs % TWO_32 >>> 0, off + epbField.TS_LOW);
  buf.writeUInt32LE(capLen >>> 0, off + epbField.CAP_LEN);
  buf.writeUInt32LE(origLen >>> 0, off + epbField.ORIG_LEN);
  return off + epbField.DATA;
}

/**
 * Finishes the EPB started at buf[off] (writeEpbHead, then capLen bytes of
 * data): the data's padding, epb_flags (when `flags` is not null), the
 * comment (pre-encoded UTF-8, when not null), opt_endofopt, and the trailing
 * length. Returns the block's total length (as epbLen). No allocation.
 */
export function writeEpbTail(buf: Buffer, off: number, capLen: number, flags: number | null, comment: Uint8Array | null): number {
  let at = off + epbField.DATA + capLen;
  const padded = off + epbField.DATA + pad4(capLen);
  buf.fill(0, at, padded);
  at = padded;
  if (comment !== null && comment.length > 0) at += writeOption(buf, at, OPT_COMMENT, comment);
  if (flags !== null) {
    buf.writeUInt16LE(EPB_FLAGS, at);
    buf.writeUInt16LE(4, at + 2);
    buf.writeUInt32LE(flags >>> 0, at + OPT_HEADER_LEN);
    at += FLAGS_OPT_LEN;
  }
  if (at !== padded) {
    buf.writeUInt32LE(0, at);
    at += END_OPT_LEN;
  }
  const total = at + 4 - off;
  buf.writeUInt32LE(total, at);
  return total;
}

/** A whole EPB in a new buffer (tests and tools; the recorder writes into its stage). */
export function enhancedPacket(ifId: number, tsUs: number, data: Uint8Array, origLen = data.length, flags: number | null = null, comment: string | null = null): Buffer {
  const c = comment !== null ? Buffer.from(comment, 'utf8') : null;
  const total = epbLen(data.length, flags !== null, c?.length ?? 0);
  const b = Buffer.alloc(total);
  writeEpbHead(b, 0, total, ifId, tsUs, data.length, origLen);
  b.set(data, epbField.DATA);
  writeEpbTail(b, 0, data.length, flags, c);
  return b;
}

export interface PcapngInterface {
  linktype: number;
  snaplen: number;
  name: string | null;
  description: string | null;
  /** if_tsresol as written (6 when absent). */
  tsresol: number;
}

export interface PcapngPacket {
  /** Index into PcapngFile.interfaces (over all sections of the file). */
  iface: number;
  tsSec: number;
  /** Microseconds (finer timestamps are truncated). */
  tsUsec: number;
  origLen: number;
  /** A sub-slice of the input buffer, not a copy. */
  data: Buffer;
  /** opt_comment (the first one), or null. */
  comment: string | null;
  /** epb_flags, or null when absent. */
  flags: number | null;
}

export interface PcapngFile {
  interfaces: PcapngInterface[];
  packets: PcapngPacket[];
}

/** Seconds and microseconds of a timestamp in 1/units seconds (units = 10^n or 2^n). */
function splitTs(high: number, low: number, tsresol: number): { sec: number; usec: number } {
  const units = (tsresol & 0x80) !== 0 ? 2 ** (tsresol & 0x7f) : 10 ** tsresol;
  const big = (BigInt(high) << 32n) | BigInt(low);
  const u = BigInt(Math.round(units));
  const sec = big / u;
  const frac = big % u;
  return { sec: Number(sec), usec: Number((frac * 1_000_000n) / u) };
}

/**
 * Parses a whole pcapng file: its interfaces and its Enhanced Packet Blocks
 * (other block types are skipped). Throws WireError on a bad magic, a bad
 * block length, a truncated block or an EPB naming an interface that was
 * not described. Packets alias `buf`.
 */
export function readPcapng(buf: Buffer): PcapngFile {
  if (buf.length < 12 || buf.readUInt32LE(0) !== BLOCK_SHB) {
    throw new WireError('not a pcapng file: it does not start with a Section Header Block (0x0a0d0d0a)');
  }
  const interfaces: PcapngInterface[] = [];
  const packets: PcapngPacket[] = [];
  let little = true;
  let sectionBase = 0;
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < BLOCK_OVERHEAD) {
      throw new WireError(`pcapng block at offset ${off}: ${buf.length - off} bytes left, a block needs at least ${BLOCK_OVERHEAD}`);
    }
    const typeLe = buf.readUInt32LE(off);
    if (typeLe === BLOCK_SHB) {
      const bom = buf.readUInt32LE(off + shbField.BYTE_ORDER);
      if (bom === BYTE_ORDER_MAGIC) little = true;
      else if (buf.readUInt32BE(off + shbField.BYTE_ORDER) === BYTE_ORDER_MAGIC) little = false;
      else throw new WireError(`pcapng section at offset ${off}: byte-order magic 0x${bom.toString(16)} is not 0x1a2b3c4d in either order`);
      sectionBase = interfaces.length;
    }
    const u32 = (o: number): number => (little ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
    const u16 = (o: number): number => (little ? buf.readUInt16LE(o) : buf.readUInt16BE(o));
    const type = u32(off);
    const total = u32(off + blockField.TOTAL_LEN);
    if (total < BLOCK_OVERHEAD || total % 4 !== 0) throw new WireError(`pcapng block at offset ${off}: total length ${total} is not a multiple of 4 of at least ${BLOCK_OVERHEAD}`);
    if (buf.length - off < total) throw new WireError(`pcapng block at offset ${off}: length ${total}, ${buf.length - off} bytes left (${total - (buf.length - off)} short)`);
    if (u32(off + total - 4) !== total) throw new WireError(`pcapng block at offset ${off}: the trailing length ${u32(off + total - 4)} differs from the leading ${total}`);
    // Each known block's fixed fields must fit in it: a block cut short would
    // have them read from the next block, or from past the buffer's end.
    const fixed = type === BLOCK_SHB ? shbField.OPTIONS : type === BLOCK_IDB ? idbField.OPTIONS : type === BLOCK_EPB ? epbField.DATA : blockField.BODY;
    if (total < fixed + 4) {
      const name = type === BLOCK_SHB ? 'Section Header' : type === BLOCK_IDB ? 'Interface Description' : 'Enhanced Packet';
      throw new WireError(`pcapng ${name} Block at offset ${off}: total length ${total} is shorter than its fixed fields (at least ${fixed + 4})`);
    }
    const end = off + total - 4;
    const options = (from: number): Map<number, Buffer> => {
      const m = new Map<number, Buffer>();
      let o = from;
      while (o + OPT_HEADER_LEN <= end) {
        const code = u16(o);
        const len = u16(o + 2);
        if (code === OPT_ENDOFOPT) break;
        if (o + OPT_HEADER_LEN + len > end) throw new WireError(`pcapng block at offset ${off}: option ${code} of ${len} bytes runs past the block`);
        if (!m.has(code)) m.set(code, buf.subarray(o + OPT_HEADER_LEN, o + OPT_HEADER_LEN + len));
        o += optionLen(len);
      }
      return m;
    };
    if (type === BLOCK_SHB) {
      const major = u16(off + shbField.VERSION_MAJOR);
      if (major !== VERSION_MAJOR) throw new WireError(`pcapng version ${major}.${u16(off + shbField.VERSION_MINOR)} is not supported (want ${VERSION_MAJOR}.x)`);
    } else if (type === BLOCK_IDB) {
      const o = options(off + idbField.OPTIONS);
      const res = o.get(IF_TSRESOL);
      interfaces.push({
        linktype: u16(off + idbField.LINKTYPE),
        snaplen: u32(off + idbField.SNAPLEN),
        name: o.get(IF_NAME)?.toString('utf8') ?? null,
        description: o.get(IF_DESCRIPTION)?.toString('utf8') ?? null,
        tsresol: res !== undefined && res.length >= 1 ? res[0]! : 6,
      });
    } else if (type === BLOCK_EPB) {
      const ifId = u32(off + epbField.INTERFACE_ID);
      const iface = sectionBase + ifId;
      const desc = interfaces[iface];
      if (iface >= interfaces.length || desc === undefined) throw new WireError(`pcapng packet at offset ${off}: interface ${ifId} was not described`);
      const capLen = u32(off + epbField.CAP_LEN);
      const dataEnd = off + epbField.DATA + capLen;
      if (dataEnd > end) throw new WireError(`pcapng packet at offset ${off}: captured length ${capLen} runs past the block`);
      const o = options(off + epbField.DATA + pad4(capLen));
      const ts = splitTs(u32(off + epbField.TS_HIGH), u32(off + epbField.TS_LOW), desc.tsresol);
      const fl = o.get(EPB_FLAGS);
      packets.push({
        iface,
        tsSec: ts.sec,
        tsUsec: ts.usec,
        origLen: u32(off + epbField.ORIG_LEN),
        data: buf.subarray(off + epbField.DATA, dataEnd),
        comment: o.get(OPT_COMMENT)?.toString('utf8') ?? null,
        flags: fl !== undefined && fl.length >= 4 ? (little ? fl.readUInt32LE(0) : fl.readUInt32BE(0)) : null,
      });
    }
    off += total;
  }
  return { interfaces, packets };
}

/**
 * Either format, as pcapng's shape: a classic pcap file becomes one
 * interface (no name) and packets without comments or flags. For whatever
 * reads vxtap's captures: files from before pcapng and fixtures are classic.
 */
export function readCapture(buf: Buffer): PcapngFile {
  if (buf.length >= 4 && buf.readUInt32LE(0) === BLOCK_SHB) return readPcapng(buf);
  const f = readPcap(buf);
  return {
    interfaces: [{ linktype: f.linktype, snaplen: f.snaplen, name: null, description: null, tsresol: f.nanosecond ? 9 : 6 }],
    packets: f.records.map((r) => ({ iface: 0, tsSec: r.tsSec, tsUsec: r.tsUsec, origLen: r.origLen, data: r.data, comment: null, flags: null })),
  };
}
