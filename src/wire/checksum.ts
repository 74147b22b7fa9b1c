/**
 * The Internet checksum (RFC 1071): the 16-bit ones' complement of the ones'
 * complement sum of the data taken as big-endian 16-bit words.
 *
 * The sum is kept unfolded in a double while adding (exact up to 2^53, far
 * beyond any datagram), and folded once at the end: the end-around carry of
 * RFC 1071 section 4.1 gives the same result folded late as folded per word.
 * That lets a caller add a pseudo-header and the data in separate calls.
 *
 * Nothing here allocates: the data plane may call it per frame.
 */

/**
 * Adds buf[off..off+len) as big-endian 16-bit words to `initial` and returns
 * the unfolded sum. An odd last byte counts as the high byte of a word whose
 * low byte is zero (RFC 1071 section 4.1, "if count > 0 add left-over byte").
 */
export function sum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  let acc = initial;
  const end = off + len;
  const evenEnd = off + (len & ~1);
  let i = off;
  for (; i < evenEnd; i += 2) acc += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) acc += buf[i]! << 8;
  return acc;
}

/** Folds the carries of an unfolded sum into 16 bits (the end-around carry). */
export function fold(acc: number): number {
  // Two rounds are not always enough for a sum this wide, so loop.
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}

/** The checksum to write into a header: the complement of the folded sum. */
export function finish(acc: number): number {
  return ~fold(acc) & 0xffff;
}

/** The checksum of buf[off..off+len), starting from a partial sum (e.g. a pseudo-header). */
export function checksum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  return finish(sum(buf, off, len, initial));
}

/**
 * True when data that carries its own checksum field sums to 0xffff, i.e.
 * the checksum over it (field included) is zero (RFC 1071 section 1, step 3).
 */
export function verify(buf: Uint8Array, off: number, len: number, initial = 0): boolean {
  return fold(sum(buf, off, len, initial)) === 0xffff;
}

/**
 * The unfolded sum of the IPv4 pseudo-header that UDP (RFC 768) and TCP
 * (RFC 793 section 3.1) put in front of their checksum:
 *
 *   +--------+--------+--------+--------+
 *   |          source address           |
 *   +--------+--------+--------+--------+
 *   |        destination address        |
 *   +--------+--------+--------+--------+
 *   |  zero  |protocol|  UDP/TCP length |
 *   +--------+--------+--------+--------+
 *
 * Addresses are host-order u32s (as in ./addr); `length` is the length of
 * the UDP or TCP header plus payload.
 */
export function pseudoHeaderSumIpv4(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + (protocol & 0xff) + (length & 0xffff);
}

/**
 * The unfolded sum of the IPv6 pseudo-header (RFC 8200 section 8.1) that
 * UDP, TCP and ICMPv6 (RFC 4443 section 2.3) put in front of their checksum:
 *
 *   +--------+--------+--------+--------+
 *   |                                   |
 *   +          source address           +   16 bytes
 *   |                                   |
 *   +--------+--------+--------+--------+
 *   |                                   |
 *   +        destination address        +   16 bytes
 *   |                                   |
 *   +--------+--------+--------+--------+
 *   |       upper-layer packet length   |   32 bits
 *   +--------+--------+--------+--------+
 *   |      zero                |  next  |
 *   +--------+--------+--------+--------+
 *
 * The addresses are read where they lie (normally the IPv6 header in front
 * of the data), so nothing is copied: `src` and `dst` are offsets in `buf`.
 * `length` is the upper-layer header plus data; `nextHeader` the protocol's
 * number (17 UDP, 58 ICMPv6), not the value in the IPv6 header, which may
 * name an extension header.
 */
export function pseudoHeaderSumIpv6(buf: Uint8Array, src: number, dst: number, nextHeader: number, length: number): number {
  let acc = sum(buf, src, 16);
  acc = sum(buf, dst, 16, acc);
  return acc + Math.floor(length / 0x10000) + (length & 0xffff) + (nextHeader & 0xff);
}
