/**
 * The outer UDP source port of an encapsulated frame: a hash of the inner
 * flow, in the dynamic range 49152-65535 (RFC 7348 section 5: "it is
 * recommended that the UDP source port number be calculated using a hash of
 * fields from the inner packet", in the range 49152-65535). Routers on the
 * underlay hash the outer 5-tuple for ECMP; with a per-flow source port they
 * spread our flows as they would spread the inner ones, and all frames of one
 * flow take one path (no reordering).
 *
 * The flow is the inner IPv4 5-tuple (addresses, protocol, and the ports of
 * TCP/UDP when the packet is not a fragment), the IPv6 address pair and next
 * header, or else the MAC pair. It is read straight from the frame: no
 * allocation per frame.
 */
import { formatIpv4, formatMac } from '../wire/addr';
import * as ethernet from '../wire/ethernet';
import * as ipv4 from '../wire/ipv4';
import * as ipv6 from '../wire/ipv6';
import * as udp from '../wire/udp';

export const SOURCE_PORT_MIN = 49152;
const SOURCE_PORT_SPAN = 65536 - SOURCE_PORT_MIN;

/** One multiply-xorshift round (the murmur3 finaliser): cheap and well mixed. */
function mix(h: number, v: number): number {
  h = Math.imul(h ^ v, 0x85ebca6b);
  return (h ^ (h >>> 13)) >>> 0;
}

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function word(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/** A 32-bit hash of the inner flow of the Ethernet frame at buf[off..off+len). */
export function flowHash(buf: Uint8Array, off: number, len: number): number {
  const end = off + len;
  const type = ethernet.etherType(buf, off);
  const l3 = off + ethernet.l3Offset(buf, off);
  if (type === ethernet.ETHERTYPE_IPV4 && l3 + ipv4.HEADER_LEN <= end) {
    const proto = ipv4.protocol(buf, l3);
    let h = mix(mix(0x9747b28c ^ proto, ipv4.src(buf, l3)), ipv4.dst(buf, l3));
    const l4 = l3 + ipv4.headerLen(buf, l3);
    const fragment = (((buf[l3 + ipv4.field.FLG_OFF]! << 8) | buf[l3 + ipv4.field.FLG_OFF + 1]!) & (ipv4.FLAG_MF | ipv4.FRAG_OFFSET_MASK)) !== 0;
    // TCP and UDP both start with the two ports: one 32-bit word.
    if ((proto === ipv4.PROTO_TCP || proto === ipv4.PROTO_UDP) && !fragment && l4 + udp.field.LENGTH <= end) {
      h = mix(h, word(buf, l4 + udp.field.SRC_PORT));
    }
    return fmix(h);
  }
  if (type === ethernet.ETHERTYPE_IPV6 && l3 + ipv6.HEADER_LEN <= end) {
    let h = 0x9747b28c ^ buf[l3 + ipv6.field.NEXT_HEADER]!;
    for (let k = ipv6.field.SRC; k < ipv6.field.DST + ipv6.ADDR_LEN; k += 4) h = mix(h, word(buf, l3 + k));
    return fmix(h);
  }
  // Anything else: the MAC pair.
  let h = 0x9747b28c ^ type;
  h = mix(h, word(buf, off + ethernet.field.DST));
  h = mix(h, word(buf, off + ethernet.field.DST + 4));
  h = mix(h, word(buf, off + ethernet.field.SRC + 2));
  return fmix(h);
}

/**
 * The outer UDP source port for the frame: flowHash folded into min .. min +
 * span - 1 (by default 49152-65535; a UDP GSO port narrows it to its pool).
 */
export function flowSourcePort(buf: Uint8Array, off: number, len: number, min = SOURCE_PORT_MIN, span = SOURCE_PORT_SPAN): number {
  return min + (flowHash(buf, off, len) % span);
}

/**
 * What flowHash hashed for this frame, in words, for the trace (issue #12):
 * the same branches as flowHash, so the two cannot disagree on which inner
 * fields make the outer source port. Off the hot path: it allocates.
 */
export function flowFieldsText(buf: Uint8Array, off: number, len: number): string {
  const end = off + len;
  if (len < ethernet.HEADER_LEN) return 'a frame too short to hash';
  const type = ethernet.etherType(buf, off);
  const l3 = off + ethernet.l3Offset(buf, off);
  if (type === ethernet.ETHERTYPE_IPV4 && l3 + ipv4.HEADER_LEN <= end) {
    const proto = ipv4.protocol(buf, l3);
    const addrs = `inner IPv4 src ${formatIpv4(ipv4.src(buf, l3))}, dst ${formatIpv4(ipv4.dst(buf, l3))}, proto ${proto}`;
    const l4 = l3 + ipv4.headerLen(buf, l3);
    const fragment = (((buf[l3 + ipv4.field.FLG_OFF]! << 8) | buf[l3 + ipv4.field.FLG_OFF + 1]!) & (ipv4.FLAG_MF | ipv4.FRAG_OFFSET_MASK)) !== 0;
    if ((proto === ipv4.PROTO_TCP || proto === ipv4.PROTO_UDP) && !fragment && l4 + udp.field.LENGTH <= end) {
      const sport = (buf[l4]! << 8) | buf[l4 + 1]!;
      const dport = (buf[l4 + 2]! << 8) | buf[l4 + 3]!;
      return `${addrs}, ${proto === ipv4.PROTO_TCP ? 'TCP' : 'UDP'} ports ${sport} > ${dport}`;
    }
    return fragment ? `${addrs} (a fragment: no ports)` : addrs;
  }
  if (type === ethernet.ETHERTYPE_IPV6 && l3 + ipv6.HEADER_LEN <= end) {
    return `inner IPv6 src ${ipv6.formatAddress(buf, l3 + ipv6.field.SRC)}, dst ${ipv6.formatAddress(buf, l3 + ipv6.field.DST)}, next header ${buf[l3 + ipv6.field.NEXT_HEADER]!}`;
  }
  return `inner MAC dst ${formatMac(buf, off + ethernet.field.DST)}, src ${formatMac(buf, off + ethernet.field.SRC)}, EtherType 0x${type.toString(16).padStart(4, '0')}`;
}
