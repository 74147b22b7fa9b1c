/**
 * The addon's stamp file (native/stamps.h): a 64-byte header {"VXSTAMP1",
 * u64 capacity, u64 count} and 16-byte records {u64 ns CLOCK_REALTIME, u16
 * ICMP id, u16 ICMP seq, u8 point, u8 side, u8 ICMP type (255: none), u8
 * frames}, little-endian (the machine's order: the file never leaves it).
 */

export const enum Point {
  PollWake = 1,
  ReadDone = 2,
  JsCall = 3,
  JsEnter = 4,
  JsExit = 5,
  JsReturn = 6,
  SendEnter = 7,
  SendExit = 8,
}
export const enum Side { Tap = 0, Udp = 1 }

export interface Stamp { ns: bigint; point: Point; side: Side; icmpType: number; icmpId: number; icmpSeq: number; frames: number }

const HEADER = 64;
const RECORD = 16;

export class StampFileError extends Error {
  readonly code = 'VXTAP_ERR_STAMPS';
}

/** The records taken (count of them), in the order taken; `full` when the file ran out of room. */
export function readStamps(buf: Buffer): { stamps: Stamp[]; full: boolean } {
  if (buf.length < HEADER || buf.toString('latin1', 0, 8) !== 'VXSTAMP1') throw new StampFileError('not a vxtap stamp file (VXTAP_STAMPS)');
  const capacity = Number(buf.readBigUInt64LE(8));
  const count = Number(buf.readBigUInt64LE(16));
  if (HEADER + count * RECORD > buf.length) throw new StampFileError(`the header says ${count} records, the file holds ${Math.floor((buf.length - HEADER) / RECORD)}`);
  const stamps: Stamp[] = [];
  for (let i = 0; i < count; i++) {
    const o = HEADER + i * RECORD;
    stamps.push({
      ns: buf.readBigUInt64LE(o), icmpId: buf.readUInt16LE(o + 8), icmpSeq: buf.readUInt16LE(o + 10),
      point: buf[o + 12]! as Point, side: buf[o + 13]! as Side, icmpType: buf[o + 14]!, frames: buf[o + 15]!,
    });
  }
  return { stamps, full: count >= capacity };
}
