/**
 * The classic libpcap file format (the one tcpdump -w writes; see
 * pcap-savefile(5) and draft-ietf-opsawg-pcap). Pure functions over bytes:
 * the caller reads and writes the file.
 *
 * File header, 24 bytes:
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     Magic Number (0-3)                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Major Version (4-5) = 2   |    Minor Version (6-7) = 4    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |              thiszone (8-11), always 0                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |              sigfigs (12-15), always 0                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     SnapLen (16-19)                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     LinkType (20-23)                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Then per packet a 16-byte record header and the captured bytes:
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |            Timestamp, seconds (0-3)                           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |            Timestamp, micro- or nanoseconds (4-7)             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |            Captured Packet Length (8-11)                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |            Original Packet Length (12-15)                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The byte order is the writer's: the magic 0xa1b2c3d4 (microseconds) or
 * 0xa1b23c4d (nanoseconds) reads back as written in that order, or swapped.
 * We write little-endian with microseconds, as tcpdump does on x86.
 *
 * pcapng (magic 0x0a0d0d0a) is a different format (io/pcapng.ts, which vxtap
 * writes) and is refused here with a hint.
 */
import { WireError } from '../errors';

export const field = {
  MAGIC: 0,
  VERSION_MAJOR: 4,
  VERSION_MINOR: 6,
  THISZONE: 8,
  SIGFIGS: 12,
  SNAPLEN: 16,
  LINKTYPE: 20,
  END: 24,
} as const;

export const recordField = {
  TS_SEC: 0,
  TS_FRAC: 4,
  CAP_LEN: 8,
  ORIG_LEN: 12,
  END: 16,
} as const;

export const FILE_HEADER_LEN = field.END;
export const RECORD_HEADER_LEN = recordField.END;

export const MAGIC_USEC = 0xa1b2c3d4;
export const MAGIC_NSEC = 0xa1b23c4d;
/** The pcapng Section Header Block type, the same in either byte order. */
export const MAGIC_PCAPNG = 0x0a0d0d0a;
export const VERSION_MAJOR = 2;
export const VERSION_MINOR = 4;

/** LINKTYPE_ETHERNET: frames from the destination MAC on, no FCS. */
export const LINKTYPE_ETHERNET = 1;
export const DEFAULT_SNAPLEN = 65535;

export interface PcapRecord {
  tsSec: number;
  /** Microseconds; a nanosecond file's fraction is divided down (truncated). */
  tsUsec: number;
  /** The packet's length on the wire; data.length is what was captured. */
  origLen: number;
  /** A sub-slice of the input buffer, not a copy. */
  data: Buffer;
}

export interface PcapFile {
  linktype: number;
  snaplen: number;
  /** True when the file stores nanoseconds (records still give tsUsec). */
  nanosecond: boolean;
  records: PcapRecord[];
}

/**
 * Parses a whole classic pcap file. Throws WireError on a bad magic, a
 * truncated header or record; the records alias `buf`.
 */
export function readPcap(buf: Buffer): PcapFile {
  if (buf.length < FILE_HEADER_LEN) {
    throw new WireError(`pcap file is ${buf.length} bytes, the file header needs ${FILE_HEADER_LEN} (${FILE_HEADER_LEN - buf.length} short)`);
  }
  const be = buf.readUInt32BE(field.MAGIC);
  const le = buf.readUInt32LE(field.MAGIC);
  if (be === MAGIC_PCAPNG) {
    throw new WireError('this is a pcapng file, not classic pcap (read it with io/pcapng.ts readPcapng or readCapture, or convert it: editcap -F pcap in.pcapng out.pcap)');
  }
  let little: boolean;
  let nanosecond: boolean;
  if (le === MAGIC_USEC || le === MAGIC_NSEC) {
    little = true;
    nanosecond = le === MAGIC_NSEC;
  } else if (be === MAGIC_USEC || be === MAGIC_NSEC) {
    little = false;
    nanosecond = be === MAGIC_NSEC;
  } else {
    throw new WireError(`not a pcap file: magic 0x${be.toString(16).padStart(8, '0')} is neither 0xa1b2c3d4 nor 0xa1b23c4d in either byte order`);
  }
  const u32 = (off: number): number => (little ? buf.readUInt32LE(off) : buf.readUInt32BE(off));
  const u16 = (off: number): number => (little ? buf.readUInt16LE(off) : buf.readUInt16BE(off));
  const major = u16(field.VERSION_MAJOR);
  if (major !== VERSION_MAJOR) throw new WireError(`pcap version ${major}.${u16(field.VERSION_MINOR)} is not supported (want ${VERSION_MAJOR}.x)`);
  // The low 16 bits are the link type; the high bits hold FCS flags (pcap-savefile(5)).
  const linktype = u32(field.LINKTYPE) & 0xffff;
  const snaplen = u32(field.SNAPLEN);

  const records: PcapRecord[] = [];
  let off = FILE_HEADER_LEN;
  while (off < buf.length) {
    const n = records.length + 1;
    if (buf.length - off < RECORD_HEADER_LEN) {
      throw new WireError(`pcap record ${n} at offset ${off}: header needs ${RECORD_HEADER_LEN} bytes, ${buf.length - off} left (${RECORD_HEADER_LEN - (buf.length - off)} short)`);
    }
    const tsSec = u32(off + recordField.TS_SEC);
    const frac = u32(off + recordField.TS_FRAC);
    const capLen = u32(off + recordField.CAP_LEN);
    const origLen = u32(off + recordField.ORIG_LEN);
    const start = off + RECORD_HEADER_LEN;
    if (buf.length - start < capLen) {
      throw new WireError(`pcap record ${n} at offset ${off}: captured length ${capLen}, ${buf.length - start} bytes left (${capLen - (buf.length - start)} short)`);
    }
    records.push({
      tsSec,
      tsUsec: nanosecond ? Math.floor(frac / 1000) : frac,
      origLen,
      data: buf.subarray(start, start + capLen),
    });
    off = start + capLen;
  }
  return { linktype, snaplen, nanosecond, records };
}

/** A little-endian, microsecond, version 2.4 file header. */
export function pcapFileHeader(linktype = LINKTYPE_ETHERNET, snaplen = DEFAULT_SNAPLEN): Buffer {
  const b = Buffer.alloc(FILE_HEADER_LEN);
  b.writeUInt32LE(MAGIC_USEC, field.MAGIC);
  b.writeUInt16LE(VERSION_MAJOR, field.VERSION_MAJOR);
  b.writeUInt16LE(VERSION_MINOR, field.VERSION_MINOR);
  // thiszone and sigfigs stay 0: timestamps are UTC and nobody sets sigfigs.
  b.writeUInt32LE(snaplen >>> 0, field.SNAPLEN);
  b.writeUInt32LE(linktype >>> 0, field.LINKTYPE);
  return b;
}

/** A little-endian record header; capLen bytes of frame follow it. */
export function pcapRecordHeader(tsSec: number, tsUsec: number, capLen: number, origLen: number): Buffer {
  const b = Buffer.alloc(RECORD_HEADER_LEN);
  writePcapRecordHeader(b, 0, tsSec, tsUsec, capLen, origLen);
  return b;
}

/** Writes a record header into a caller's buffer (for a writer that reuses one). Returns RECORD_HEADER_LEN. */
export function writePcapRecordHeader(
  buf: Buffer, off: number, tsSec: number, tsUsec: number, capLen: number, origLen: number,
): number {
  buf.writeUInt32LE(tsSec >>> 0, off + recordField.TS_SEC);
  buf.writeUInt32LE(tsUsec >>> 0, off + recordField.TS_FRAC);
  buf.writeUInt32LE(capLen >>> 0, off + recordField.CAP_LEN);
  buf.writeUInt32LE(origLen >>> 0, off + recordField.ORIG_LEN);
  return RECORD_HEADER_LEN;
}
