/**
 * rtnetlink messages (netlink(7), rtnetlink(7); include/uapi/linux/netlink.h,
 * rtnetlink.h, if_link.h, if_addr.h): builders for the few requests vxtap
 * sends, checked parsers for the replies. No I/O: the bytes travel through
 * the addon's nlTransact (native/netlink.cc); the calls are
 * src/control/rtnl.ts.
 *
 * Netlink integers are in the HOST's byte order (the kernel and this process
 * share a machine), except where noted; every read and write here goes
 * through u16/u32 below, which pick the order once. Addresses inside
 * attributes (RTA_DST, IFA_LOCAL, ...) are network order, as on the wire.
 *
 * Each message is a header followed by a fixed struct and attributes, every
 * piece padded to 4 bytes (NLMSG_ALIGN, RTA_ALIGN):
 *
 *   nlmsghdr (16) | ifinfomsg/ifaddrmsg/rtmsg | rtattr | rtattr | ...
 *
 * Replies are untrusted in the sense of the other wire codecs: a length that
 * runs past its buffer, a struct that is shorter than its type needs, or an
 * attribute of the wrong size is a WireError naming the offset, never a
 * RangeError from Buffer or a read of bytes that are not there.
 */
import { endianness } from 'node:os';
import { WireError } from '../errors';

// ---------------------------------------------------------------------------
// Byte order and alignment

const LITTLE = endianness() === 'LE';

export function u16(buf: Buffer, off: number): number { return LITTLE ? buf.readUInt16LE(off) : buf.readUInt16BE(off); }
export function u32(buf: Buffer, off: number): number { return LITTLE ? buf.readUInt32LE(off) : buf.readUInt32BE(off); }
export function i32(buf: Buffer, off: number): number { return LITTLE ? buf.readInt32LE(off) : buf.readInt32BE(off); }
function put16(buf: Buffer, off: number, v: number): void { if (LITTLE) buf.writeUInt16LE(v, off); else buf.writeUInt16BE(v, off); }
function put32(buf: Buffer, off: number, v: number): void { if (LITTLE) buf.writeUInt32LE(v >>> 0, off); else buf.writeUInt32BE(v >>> 0, off); }

/** NLMSG_ALIGN / RTA_ALIGN: up to a multiple of 4. */
export function align4(n: number): number {
  return (n + 3) & ~3;
}

// ---------------------------------------------------------------------------
// Numbers (include/uapi/linux/netlink.h, rtnetlink.h, if.h, if_link.h, if_addr.h)

export const AF_UNSPEC = 0;
export const AF_INET = 2;

/** nlmsg_type values of the netlink core. */
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

/** nlmsg_type values of rtnetlink. */
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWROUTE = 24;
export const RTM_DELROUTE = 25;
export const RTM_GETROUTE = 26;

/** nlmsg_flags, all requests. */
export const NLM_F_REQUEST = 0x1;
export const NLM_F_MULTI = 0x2;
export const NLM_F_ACK = 0x4;
export const NLM_F_DUMP_INTR = 0x10;
/** nlmsg_flags of a GET. NLM_F_DUMP = ROOT | MATCH. */
export const NLM_F_DUMP = 0x300;
/** nlmsg_flags of a NEW. */
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;
/** nlmsg_flags of an NLMSG_ERROR: the echoed request is only its header; TLVs follow it. */
export const NLM_F_CAPPED = 0x100;
export const NLM_F_ACK_TLVS = 0x200;

/** TLVs of an extended ack (enum nlmsgerr_attrs). */
export const NLMSGERR_ATTR_MSG = 1;
export const NLMSGERR_ATTR_OFFS = 2;

/** ifi_flags bit. */
export const IFF_UP = 0x1;

export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
/** The ifindex of the link's master (a bridge); 0 in a request: none (`ip link set X nomaster`). */
export const IFLA_MASTER = 10;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_LABEL = 3;

export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_PRIORITY = 6;
export const RTA_PREFSRC = 7;
export const RTA_TABLE = 15;

export const RT_TABLE_MAIN = 254;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
/** In a delete: match a route of any scope (what `ip route del` sends). */
export const RT_SCOPE_NOWHERE = 255;
/** rtm_protocol: 0 in a delete matches any protocol. */
export const RTPROT_UNSPEC = 0;
export const RTPROT_KERNEL = 2;
/** What `ip route add` uses when no `proto` is given. */
export const RTPROT_BOOT = 3;
export const RTPROT_STATIC = 4;
export const RTN_UNICAST = 1;
/** rtm_flags bit: the gateway is on this link although no local prefix covers it. */
export const RTNH_F_ONLINK = 4;
/**
 * rtm_flags bits of an RTM_GETROUTE (a lookup, not a dump). LOOKUP_TABLE: the
 * answer's table is the one the route was found in (without it the kernel
 * says main, whatever the policy rules picked). FIB_MATCH: the answer is the
 * FIB entry that matched (its prefix, protocol, metric), not the /32 route
 * the kernel would cache for that one address.
 */
export const RTM_F_LOOKUP_TABLE = 0x1000;
export const RTM_F_FIB_MATCH = 0x2000;

/**
 * rtm_protocol values as include/uapi/linux/rtnetlink.h names them (RTPROT_*),
 * lower case, which is also how `ip route` prints them. Values above
 * RTPROT_STATIC are only labels: the kernel does not interpret them.
 */
export const RTPROT_NAMES: Readonly<Record<number, string>> = {
  0: 'unspec', 1: 'redirect', 2: 'kernel', 3: 'boot', 4: 'static',
  8: 'gated', 9: 'ra', 10: 'mrt', 11: 'zebra', 12: 'bird', 13: 'dnrouted', 14: 'xorp', 15: 'ntk', 16: 'dhcp',
  17: 'mrouted', 18: 'keepalived', 42: 'babel', 99: 'openr',
  186: 'bgp', 187: 'isis', 188: 'ospf', 189: 'rip', 192: 'eigrp',
};

/** The flag bits of nla_type; the rest is the attribute's type. */
const NLA_TYPE_MASK = 0x3fff;

// ---------------------------------------------------------------------------
// Structs

/**
 * struct nlmsghdr: every message starts with it.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      nlmsg_len (0-3)                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |       nlmsg_type (4-5)        |       nlmsg_flags (6-7)       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      nlmsg_seq (8-11)                         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                      nlmsg_pid (12-15)                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * nlmsg_len counts the header and the payload, not the padding after it.
 * nlmsg_pid is 0 from user space to the kernel; the kernel's replies carry
 * the socket's port id.
 */
export const nlmsghdr = { LEN: 0, TYPE: 4, FLAGS: 6, SEQ: 8, PID: 12 } as const;
export const NLMSG_HDRLEN = 16;

/**
 * struct nlmsgerr: the payload of NLMSG_ERROR, an ack when error is 0.
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 error (0-3), signed: -errno or 0              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |        the request's nlmsghdr (4-19), echoed                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  the request's payload, unless NLM_F_CAPPED ...               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  extended ack TLVs (rtattr form) if NLM_F_ACK_TLVS ...        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
export const nlmsgerr = { ERROR: 0, MSG: 4 } as const;
export const NLMSGERR_LEN = 4 + NLMSG_HDRLEN;

/**
 * struct ifinfomsg (RTM_*LINK).
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | ifi_family (0)|  pad (1)      |       ifi_type (2-3)          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   ifi_index (4-7), signed                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   ifi_flags (8-11): IFF_*                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   ifi_change (12-15): which flags to change   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
export const ifinfomsg = { FAMILY: 0, TYPE: 2, INDEX: 4, FLAGS: 8, CHANGE: 12 } as const;
export const IFINFOMSG_LEN = 16;

/**
 * struct ifaddrmsg (RTM_*ADDR).
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | ifa_family (0)|ifa_prefixlen 1| ifa_flags (2) | ifa_scope (3) |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   ifa_index (4-7)                             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
export const ifaddrmsg = { FAMILY: 0, PREFIXLEN: 1, FLAGS: 2, SCOPE: 3, INDEX: 4 } as const;
export const IFADDRMSG_LEN = 8;

/**
 * struct rtmsg (RTM_*ROUTE).
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | rtm_family (0)| rtm_dst_len 1 | rtm_src_len 2 |  rtm_tos (3)  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | rtm_table (4) |rtm_protocol 5 | rtm_scope (6) | rtm_type (7)  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   rtm_flags (8-11): RTNH_F_*, RTM_F_*         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * rtm_table holds tables up to 255; the RTA_TABLE attribute holds all.
 */
export const rtmsg = { FAMILY: 0, DST_LEN: 1, SRC_LEN: 2, TOS: 3, TABLE: 4, PROTOCOL: 5, SCOPE: 6, TYPE: 7, FLAGS: 8 } as const;
export const RTMSG_LEN = 12;

/**
 * struct rtattr: one attribute, a TLV.
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |        rta_len (0-1)          |        rta_type (2-3)         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  value (4 .. rta_len), then padding to 4 ...                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * rta_len counts the 4-byte header and the value, not the padding. The top
 * two bits of rta_type are NLA_F_NESTED and NLA_F_NET_BYTEORDER.
 */
export const rtattr = { LEN: 0, TYPE: 2, VALUE: 4 } as const;
export const RTA_HDRLEN = 4;

// ---------------------------------------------------------------------------
// Messages and attributes (checked parsing)

/** One message of a reply: its header fields and its payload (a view, not a copy). */
export interface NlMsg {
  readonly type: number;
  readonly flags: number;
  readonly seq: number;
  readonly pid: number;
  /** Bytes after the header, nlmsg_len - 16 of them. */
  readonly payload: Buffer;
  /** Where the message starts in the reply (for error messages). */
  readonly offset: number;
}

/**
 * Splits a reply into its messages. Each nlmsg_len must be at least the
 * header and fit in what is left; the padding after the last message may be
 * missing (the transport returns what the kernel sent).
 */
export function parseMessages(buf: Buffer): NlMsg[] {
  const out: NlMsg[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < NLMSG_HDRLEN) {
      throw new WireError(`netlink message at offset ${off}: ${buf.length - off} bytes left, the header needs ${NLMSG_HDRLEN}`);
    }
    const len = u32(buf, off + nlmsghdr.LEN);
    if (len < NLMSG_HDRLEN) throw new WireError(`netlink message at offset ${off}: nlmsg_len ${len} is under the header length ${NLMSG_HDRLEN}`);
    if (len > buf.length - off) {
      throw new WireError(`netlink message at offset ${off}: nlmsg_len ${len} runs past the reply (${buf.length - off} bytes left)`);
    }
    out.push({
      type: u16(buf, off + nlmsghdr.TYPE),
      flags: u16(buf, off + nlmsghdr.FLAGS),
      seq: u32(buf, off + nlmsghdr.SEQ),
      pid: u32(buf, off + nlmsghdr.PID),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
      offset: off,
    });
    off += Math.min(align4(len), buf.length - off);
  }
  return out;
}

/** One attribute: its type (flag bits removed) and value (a view). */
export interface Attr {
  readonly type: number;
  readonly value: Buffer;
}

/** The attributes in buf[off..end); a length under 4 or past `end` is a WireError. */
export function parseAttrs(buf: Buffer, off: number, end: number = buf.length): Attr[] {
  const out: Attr[] = [];
  while (off < end) {
    if (end - off < RTA_HDRLEN) throw new WireError(`rtattr at offset ${off}: ${end - off} bytes left, the header needs ${RTA_HDRLEN}`);
    const len = u16(buf, off + rtattr.LEN);
    const type = u16(buf, off + rtattr.TYPE) & NLA_TYPE_MASK;
    if (len < RTA_HDRLEN) throw new WireError(`rtattr type ${type} at offset ${off}: rta_len ${len} is under ${RTA_HDRLEN}`);
    if (len > end - off) throw new WireError(`rtattr type ${type} at offset ${off}: rta_len ${len} runs past its message (${end - off} bytes left)`);
    out.push({ type, value: buf.subarray(off + RTA_HDRLEN, off + len) });
    off += Math.min(align4(len), end - off);
  }
  return out;
}

/** The last attribute of `type` (the kernel sends each once), or undefined. */
function attr(attrs: readonly Attr[], type: number): Buffer | undefined {
  let found: Buffer | undefined;
  for (const a of attrs) if (a.type === type) found = a.value;
  return found;
}

function attrU32(attrs: readonly Attr[], type: number, what: string): number | undefined {
  const v = attr(attrs, type);
  if (v === undefined) return undefined;
  if (v.length !== 4) throw new WireError(`${what}: attribute ${type} is ${v.length} bytes, a u32 is 4`);
  return u32(v, 0);
}

/** A NUL-terminated string attribute; a missing NUL is tolerated (the value ends there). */
function attrString(attrs: readonly Attr[], type: number): string | undefined {
  const v = attr(attrs, type);
  if (v === undefined) return undefined;
  const nul = v.indexOf(0);
  return v.toString('utf8', 0, nul < 0 ? v.length : nul);
}

function need(msg: NlMsg, len: number, what: string): void {
  if (msg.payload.length < len) {
    throw new WireError(`${what} at offset ${msg.offset}: the payload is ${msg.payload.length} bytes, the struct needs ${len}`);
  }
}

/** What an NLMSG_ERROR says. */
export interface NlError {
  /** 0 for an ack, else the positive errno. */
  readonly errno: number;
  /** The sequence number of the request it answers (from the echoed header). */
  readonly requestSeq: number;
  readonly requestType: number;
  /** The kernel's extended ack text (NLMSGERR_ATTR_MSG), when it sent one. */
  readonly message?: string;
  /** NLMSGERR_ATTR_OFFS: the byte offset in the request of the attribute at fault. */
  readonly badOffset?: number;
}

export function parseError(msg: NlMsg): NlError {
  need(msg, NLMSGERR_LEN, 'NLMSG_ERROR');
  const p = msg.payload;
  const err = i32(p, nlmsgerr.ERROR);
  if (err > 0) throw new WireError(`NLMSG_ERROR at offset ${msg.offset}: error ${err} is positive (the kernel sends -errno)`);
  const echoedLen = u32(p, nlmsgerr.MSG + nlmsghdr.LEN);
  const out: { -readonly [K in keyof NlError]: NlError[K] } = {
    errno: err === 0 ? 0 : -err, // not -0, which deepEqual and Object.is tell from 0
    requestSeq: u32(p, nlmsgerr.MSG + nlmsghdr.SEQ),
    requestType: u16(p, nlmsgerr.MSG + nlmsghdr.TYPE),
  };
  if ((msg.flags & NLM_F_ACK_TLVS) === 0) return out;
  // The TLVs follow the echoed request: its header only when capped (or an
  // ack, which never echoes the payload), else the whole request.
  const echoed = (msg.flags & NLM_F_CAPPED) !== 0 ? NLMSG_HDRLEN : Math.max(NLMSG_HDRLEN, align4(echoedLen));
  const tlvStart = nlmsgerr.MSG + echoed;
  if (tlvStart > p.length) {
    throw new WireError(`NLMSG_ERROR at offset ${msg.offset}: the echoed request (${echoed} bytes) runs past the payload (${p.length})`);
  }
  const attrs = parseAttrs(p, tlvStart, p.length);
  const text = attrString(attrs, NLMSGERR_ATTR_MSG);
  if (text !== undefined) out.message = text;
  const offs = attrU32(attrs, NLMSGERR_ATTR_OFFS, 'NLMSG_ERROR');
  if (offs !== undefined) out.badOffset = offs;
  return out;
}

/** An RTM_NEWLINK as vxtap reads it. */
export interface LinkMsg {
  readonly index: number;
  /** ARPHRD_* (1: Ethernet). */
  readonly type: number;
  /** IFF_* bits. */
  readonly flags: number;
  readonly name?: string;
  readonly mtu?: number;
  /** The link-layer address (6 bytes on Ethernet). */
  readonly address?: Buffer;
  /** IFLA_MASTER: the bridge (or bond) this link is a port of. */
  readonly master?: number;
}

export function parseLink(msg: NlMsg): LinkMsg {
  need(msg, IFINFOMSG_LEN, 'ifinfomsg');
  const p = msg.payload;
  const attrs = parseAttrs(p, IFINFOMSG_LEN);
  const out: { -readonly [K in keyof LinkMsg]: LinkMsg[K] } = {
    index: i32(p, ifinfomsg.INDEX),
    type: u16(p, ifinfomsg.TYPE),
    flags: u32(p, ifinfomsg.FLAGS),
  };
  const name = attrString(attrs, IFLA_IFNAME);
  if (name !== undefined) out.name = name;
  const mtu = attrU32(attrs, IFLA_MTU, 'ifinfomsg');
  if (mtu !== undefined) out.mtu = mtu;
  const address = attr(attrs, IFLA_ADDRESS);
  if (address !== undefined) out.address = address;
  const master = attrU32(attrs, IFLA_MASTER, 'ifinfomsg');
  if (master !== undefined) out.master = master;
  return out;
}

/** An RTM_NEWADDR as vxtap reads it. */
export interface AddrMsg {
  readonly family: number;
  readonly prefixLen: number;
  readonly flags: number;
  readonly scope: number;
  readonly index: number;
  /** IFA_LOCAL: the interface's own address (what `ip addr` prints). */
  readonly local?: Buffer;
  /** IFA_ADDRESS: the peer on a point-to-point link, else the same as local. */
  readonly address?: Buffer;
  readonly label?: string;
}

export function parseAddr(msg: NlMsg): AddrMsg {
  need(msg, IFADDRMSG_LEN, 'ifaddrmsg');
  const p = msg.payload;
  const attrs = parseAttrs(p, IFADDRMSG_LEN);
  const out: { -readonly [K in keyof AddrMsg]: AddrMsg[K] } = {
    family: p[ifaddrmsg.FAMILY]!,
    prefixLen: p[ifaddrmsg.PREFIXLEN]!,
    flags: p[ifaddrmsg.FLAGS]!,
    scope: p[ifaddrmsg.SCOPE]!,
    index: u32(p, ifaddrmsg.INDEX),
  };
  const local = attr(attrs, IFA_LOCAL);
  if (local !== undefined) out.local = local;
  const address = attr(attrs, IFA_ADDRESS);
  if (address !== undefined) out.address = address;
  const label = attrString(attrs, IFA_LABEL);
  if (label !== undefined) out.label = label;
  return out;
}

/** An RTM_NEWROUTE as vxtap reads it (and, with the optional fields, what it sends). */
export interface RouteMsg {
  readonly family: number;
  readonly dstLen: number;
  /** RTA_TABLE when present (it holds tables over 255), else rtm_table. */
  readonly table: number;
  readonly protocol: number;
  readonly scope: number;
  readonly type: number;
  /** rtm_flags: RTNH_F_ONLINK among others. */
  readonly flags: number;
  /** RTA_DST, network order; absent for a default route. */
  readonly dst?: Buffer;
  readonly gateway?: Buffer;
  /** RTA_OIF: the output interface index; absent on multipath and blackhole routes. */
  readonly oif?: number;
  /** RTA_PRIORITY: the metric. */
  readonly priority?: number;
  readonly prefsrc?: Buffer;
}

export function parseRoute(msg: NlMsg): RouteMsg {
  need(msg, RTMSG_LEN, 'rtmsg');
  const p = msg.payload;
  const attrs = parseAttrs(p, RTMSG_LEN);
  const table = attrU32(attrs, RTA_TABLE, 'rtmsg');
  const out: { -readonly [K in keyof RouteMsg]: RouteMsg[K] } = {
    family: p[rtmsg.FAMILY]!,
    dstLen: p[rtmsg.DST_LEN]!,
    table: table ?? p[rtmsg.TABLE]!,
    protocol: p[rtmsg.PROTOCOL]!,
    scope: p[rtmsg.SCOPE]!,
    type: p[rtmsg.TYPE]!,
    flags: u32(p, rtmsg.FLAGS),
  };
  const dst = attr(attrs, RTA_DST);
  if (dst !== undefined) out.dst = dst;
  const gateway = attr(attrs, RTA_GATEWAY);
  if (gateway !== undefined) out.gateway = gateway;
  const oif = attrU32(attrs, RTA_OIF, 'rtmsg');
  if (oif !== undefined) out.oif = oif;
  const priority = attrU32(attrs, RTA_PRIORITY, 'rtmsg');
  if (priority !== undefined) out.priority = priority;
  const prefsrc = attr(attrs, RTA_PREFSRC);
  if (prefsrc !== undefined) out.prefsrc = prefsrc;
  return out;
}

// ---------------------------------------------------------------------------
// Requests

/** Attribute values a request may carry: a u32 (host order), raw bytes, or a string (sent NUL-terminated). */
type AttrValue = { readonly u32: number } | Buffer | string;

function attrBytes(v: AttrValue): Buffer {
  if (typeof v === 'string') return Buffer.from(`${v}\0`, 'utf8');
  if (Buffer.isBuffer(v)) return v;
  const b = Buffer.alloc(4);
  put32(b, 0, v.u32);
  return b;
}

/**
 * One request: header, the fixed struct (already filled), attributes in the
 * given order, each padded to 4. nlmsg_pid is 0 (to the kernel).
 */
export function emitRequest(type: number, flags: number, seq: number, struct: Buffer, attrs: ReadonlyArray<readonly [number, AttrValue]> = []): Buffer {
  const values = attrs.map(([t, v]) => [t, attrBytes(v)] as const);
  let len = NLMSG_HDRLEN + align4(struct.length);
  for (const [, v] of values) len += align4(RTA_HDRLEN + v.length);
  const buf = Buffer.alloc(len); // zeroed: padding and reserved bytes are 0
  put32(buf, nlmsghdr.LEN, len);
  put16(buf, nlmsghdr.TYPE, type);
  put16(buf, nlmsghdr.FLAGS, flags);
  put32(buf, nlmsghdr.SEQ, seq);
  struct.copy(buf, NLMSG_HDRLEN);
  let off = NLMSG_HDRLEN + align4(struct.length);
  for (const [t, v] of values) {
    if (RTA_HDRLEN + v.length > 0xffff) throw new WireError(`rtattr type ${t}: ${v.length} bytes do not fit rta_len`);
    put16(buf, off + rtattr.LEN, RTA_HDRLEN + v.length);
    put16(buf, off + rtattr.TYPE, t);
    v.copy(buf, off + RTA_HDRLEN);
    off += align4(RTA_HDRLEN + v.length);
  }
  return buf;
}

export function emitIfinfomsg(f: { family?: number; index?: number; flags?: number; change?: number }): Buffer {
  const b = Buffer.alloc(IFINFOMSG_LEN); // pad and ifi_type stay 0: the kernel ignores them in requests
  b[ifinfomsg.FAMILY] = f.family ?? AF_UNSPEC;
  put32(b, ifinfomsg.INDEX, f.index ?? 0);
  put32(b, ifinfomsg.FLAGS, f.flags ?? 0);
  put32(b, ifinfomsg.CHANGE, f.change ?? 0);
  return b;
}

export function emitIfaddrmsg(f: { family: number; prefixLen: number; flags?: number; scope?: number; index: number }): Buffer {
  const b = Buffer.alloc(IFADDRMSG_LEN);
  b[ifaddrmsg.FAMILY] = f.family;
  b[ifaddrmsg.PREFIXLEN] = f.prefixLen;
  b[ifaddrmsg.FLAGS] = f.flags ?? 0;
  b[ifaddrmsg.SCOPE] = f.scope ?? RT_SCOPE_UNIVERSE;
  put32(b, ifaddrmsg.INDEX, f.index);
  return b;
}

export function emitRtmsg(f: { family: number; dstLen?: number; table?: number; protocol?: number; scope?: number; type?: number; flags?: number }): Buffer {
  const b = Buffer.alloc(RTMSG_LEN);
  b[rtmsg.FAMILY] = f.family;
  b[rtmsg.DST_LEN] = f.dstLen ?? 0;
  // Tables over 255 travel in RTA_TABLE; rtm_table then says RT_TABLE_UNSPEC (0).
  const table = f.table ?? 0;
  b[rtmsg.TABLE] = table > 255 ? 0 : table;
  b[rtmsg.PROTOCOL] = f.protocol ?? 0;
  b[rtmsg.SCOPE] = f.scope ?? RT_SCOPE_UNIVERSE;
  b[rtmsg.TYPE] = f.type ?? 0;
  put32(b, rtmsg.FLAGS, f.flags ?? 0);
  return b;
}

/** RTM_GETLINK for one link by name; answered by one RTM_NEWLINK and the ack, or ENODEV. */
export function getLinkRequest(seq: number, name: string): Buffer {
  return emitRequest(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, emitIfinfomsg({}), [[IFLA_IFNAME, name]]);
}

/** RTM_GETLINK for one link by index. */
export function getLinkByIndexRequest(seq: number, index: number): Buffer {
  return emitRequest(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, emitIfinfomsg({ index }));
}

/** A dump of every link. */
export function dumpLinksRequest(seq: number): Buffer {
  return emitRequest(RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, seq, emitIfinfomsg({}));
}

/**
 * RTM_NEWLINK on an existing link (no NLM_F_CREATE): MTU and address, and
 * IFF_UP set or cleared when `up` is given. The kernel applies IFLA_MTU and
 * IFLA_ADDRESS before the flags (do_setlink), so a link comes up with them.
 * `master`: the ifindex of a bridge to make the link a port of (0: leave
 * any), as `ip link set X master br0` sends.
 */
export function setLinkRequest(seq: number, index: number, change: { up?: boolean; mtu?: number; mac?: Buffer; master?: number }): Buffer {
  const attrs: [number, AttrValue][] = [];
  if (change.master !== undefined) attrs.push([IFLA_MASTER, { u32: change.master }]);
  if (change.mtu !== undefined) attrs.push([IFLA_MTU, { u32: change.mtu }]);
  if (change.mac !== undefined) attrs.push([IFLA_ADDRESS, change.mac]);
  const struct = emitIfinfomsg({
    index,
    flags: change.up === true ? IFF_UP : 0,
    change: change.up === undefined ? 0 : IFF_UP,
  });
  return emitRequest(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, seq, struct, attrs);
}

/**
 * RTM_NEWADDR (flags e.g. NLM_F_CREATE|NLM_F_REPLACE) or RTM_DELADDR of an
 * IPv4 address (4 bytes, network order) with IFA_LOCAL = IFA_ADDRESS, as
 * `ip addr add` sends for a non-point-to-point link.
 */
export function addrRequest(seq: number, type: typeof RTM_NEWADDR | typeof RTM_DELADDR, flags: number,
  a: { index: number; prefixLen: number; addr: Buffer }): Buffer {
  if (a.addr.length !== 4) throw new WireError(`an IPv4 address is 4 bytes, got ${a.addr.length}`);
  return emitRequest(type, NLM_F_REQUEST | NLM_F_ACK | flags, seq,
    emitIfaddrmsg({ family: AF_INET, prefixLen: a.prefixLen, index: a.index }),
    [[IFA_LOCAL, a.addr], [IFA_ADDRESS, a.addr]]);
}

/** A dump of every address of a family (AF_INET); the kernel does not filter by link without strict checking. */
export function dumpAddrsRequest(seq: number, family: number): Buffer {
  return emitRequest(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, seq, emitIfaddrmsg({ family, prefixLen: 0, index: 0 }));
}

/** What a route request carries: a route as read, less what only the kernel reports. Addresses are 4 bytes, network order. */
export type RouteRequest = Omit<RouteMsg, 'prefsrc'>;

/**
 * RTM_NEWROUTE (flags: NLM_F_CREATE, NLM_F_REPLACE, NLM_F_EXCL, ...) or
 * RTM_DELROUTE. Attributes in the order `ip route` sends them: RTA_TABLE
 * (only for tables over 255), RTA_DST (not for a /0), RTA_GATEWAY, RTA_OIF,
 * RTA_PRIORITY.
 */
export function routeRequest(seq: number, type: typeof RTM_NEWROUTE | typeof RTM_DELROUTE, flags: number, r: RouteRequest): Buffer {
  const attrs: [number, AttrValue][] = [];
  if (r.table > 255) attrs.push([RTA_TABLE, { u32: r.table }]);
  if (r.dst !== undefined && r.dstLen > 0) attrs.push([RTA_DST, r.dst]);
  if (r.gateway !== undefined) attrs.push([RTA_GATEWAY, r.gateway]);
  if (r.oif !== undefined) attrs.push([RTA_OIF, { u32: r.oif }]);
  if (r.priority !== undefined) attrs.push([RTA_PRIORITY, { u32: r.priority }]);
  return emitRequest(type, NLM_F_REQUEST | NLM_F_ACK | flags, seq, emitRtmsg(r), attrs);
}

/**
 * RTM_GETROUTE for one IPv4 address (4 bytes, network order): the kernel's
 * own route lookup (`ip route get`), answered by one RTM_NEWROUTE and the
 * ack, or refused with the lookup's errno (ENETUNREACH: no route covers the
 * address; a blackhole, unreachable or prohibit route: EINVAL, EHOSTUNREACH,
 * EACCES). `rtmFlags` takes RTM_F_FIB_MATCH and RTM_F_LOOKUP_TABLE.
 * rtm_dst_len is 32, as `ip route get` sends: the lookup is of one address.
 */
export function getRouteRequest(seq: number, dst: Buffer, rtmFlags: number): Buffer {
  if (dst.length !== 4) throw new WireError(`an IPv4 address is 4 bytes, got ${dst.length}`);
  return emitRequest(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_ACK, seq,
    emitRtmsg({ family: AF_INET, dstLen: 32, flags: rtmFlags }), [[RTA_DST, dst]]);
}

/** A dump of every route of a family, all tables (filtered by the caller). */
export function dumpRoutesRequest(seq: number, family: number): Buffer {
  return emitRequest(RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, seq, emitRtmsg({ family }));
}

/** The sequence number a request carries (what nlTransact matches replies by). */
export function requestSeq(req: Buffer): number {
  if (req.length < NLMSG_HDRLEN) throw new WireError(`a netlink request is at least ${NLMSG_HDRLEN} bytes, got ${req.length}`);
  return u32(req, nlmsghdr.SEQ);
}

// ---------------------------------------------------------------------------
// Neighbours and route metrics (issue #12: the outer headers the kernel will
// put on the wire). Kept together here so the older sections stay as they were.

export const RTM_NEWNEIGH = 28;
export const RTM_GETNEIGH = 30;

export const NDA_DST = 1;
export const NDA_LLADDR = 2;
/** NDA_PROBES: how many ARP probes the kernel sent for the entry (a u32). */
export const NDA_PROBES = 4;

/** RTA_METRICS: nested RTAX_* attributes, each a u32. */
export const RTA_METRICS = 8;
/** RTAX_MTU: a route's MTU, or a learned path MTU (a PMTU exception), in the metrics. */
export const RTAX_MTU = 2;
/** RTAX_HOPLIMIT: the TTL a route gives packets (`ip route add ... hoplimit N`); absent: net.ipv4.ip_default_ttl. */
export const RTAX_HOPLIMIT = 10;

/** ndm_state bits (NUD_*, include/uapi/linux/neighbour.h); an entry has one at a time. */
export const NUD_INCOMPLETE = 0x01;
export const NUD_REACHABLE = 0x02;
export const NUD_STALE = 0x04;
export const NUD_DELAY = 0x08;
export const NUD_PROBE = 0x10;
export const NUD_FAILED = 0x20;
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;

const NUD_NAMES: ReadonlyArray<readonly [number, string]> = [
  [NUD_INCOMPLETE, 'INCOMPLETE'], [NUD_REACHABLE, 'REACHABLE'], [NUD_STALE, 'STALE'], [NUD_DELAY, 'DELAY'],
  [NUD_PROBE, 'PROBE'], [NUD_FAILED, 'FAILED'], [NUD_NOARP, 'NOARP'], [NUD_PERMANENT, 'PERMANENT'],
];

/** ndm_state as `ip neigh` prints it: 'REACHABLE', 'STALE|...' for several bits, 'NONE' for 0, hex for unknown bits. */
export function nudName(state: number): string {
  if (state === 0) return 'NONE';
  const names: string[] = [];
  let rest = state;
  for (const [bit, name] of NUD_NAMES) {
    if ((state & bit) !== 0) {
      names.push(name);
      rest &= ~bit;
    }
  }
  if (rest !== 0) names.push(`0x${rest.toString(16)}`);
  return names.join('|');
}

/**
 * struct ndmsg (RTM_*NEIGH).
 *
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | ndm_family (0)| pad1 (1)      |       pad2 (2-3)              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   ndm_ifindex (4-7), signed                   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |       ndm_state (8-9): NUD_*  | ndm_flags (10)| ndm_type (11) |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * A single RTM_GETNEIGH (not a dump) is checked strictly by the kernel
 * (neigh_valid_get_req): pads, state, flags (but NTF_PROXY) and type must be 0.
 */
export const ndmsg = { FAMILY: 0, IFINDEX: 4, STATE: 8, FLAGS: 10, TYPE: 11 } as const;
export const NDMSG_LEN = 12;

/** An RTM_NEWNEIGH as vxtap reads it. */
export interface NeighMsg {
  readonly family: number;
  readonly index: number;
  /** NUD_* bits. */
  readonly state: number;
  /** NTF_* bits. */
  readonly flags: number;
  /** RTN_* (1 unicast). */
  readonly type: number;
  /** NDA_DST: the neighbour's address (4 bytes for IPv4, network order). */
  readonly dst?: Buffer;
  /** NDA_LLADDR: its link-layer address; absent while INCOMPLETE or FAILED (nothing learned). */
  readonly lladdr?: Buffer;
  readonly probes?: number;
}

export function parseNeigh(msg: NlMsg): NeighMsg {
  need(msg, NDMSG_LEN, 'ndmsg');
  const p = msg.payload;
  const attrs = parseAttrs(p, NDMSG_LEN);
  const out: { -readonly [K in keyof NeighMsg]: NeighMsg[K] } = {
    family: p[ndmsg.FAMILY]!,
    index: i32(p, ndmsg.IFINDEX),
    state: u16(p, ndmsg.STATE),
    flags: p[ndmsg.FLAGS]!,
    type: p[ndmsg.TYPE]!,
  };
  const dst = attr(attrs, NDA_DST);
  if (dst !== undefined) out.dst = dst;
  const lladdr = attr(attrs, NDA_LLADDR);
  if (lladdr !== undefined) out.lladdr = lladdr;
  const probes = attrU32(attrs, NDA_PROBES, 'ndmsg');
  if (probes !== undefined) out.probes = probes;
  return out;
}

/**
 * RTM_GETNEIGH for one IPv4 neighbour (4 bytes, network order) on link
 * `index` (`ip neigh get ADDR dev DEV`): answered by one RTM_NEWNEIGH and the
 * ack, or ENOENT when the kernel has no entry for it.
 */
export function getNeighRequest(seq: number, index: number, dst: Buffer): Buffer {
  if (dst.length !== 4) throw new WireError(`an IPv4 address is 4 bytes, got ${dst.length}`);
  const b = Buffer.alloc(NDMSG_LEN);
  b[ndmsg.FAMILY] = AF_INET;
  put32(b, ndmsg.IFINDEX, index);
  return emitRequest(RTM_GETNEIGH, NLM_F_REQUEST | NLM_F_ACK, seq, b, [[NDA_DST, dst]]);
}

/** A route's metrics (RTA_METRICS), the two the outer IPv4 header depends on. */
export interface RouteMetrics {
  readonly mtu?: number;
  readonly hoplimit?: number;
}

/**
 * The RTA_METRICS of an RTM_NEWROUTE, or undefined when it has none. The
 * kernel sends them on a lookup (RTM_GETROUTE of one address) when the route
 * sets any: `hoplimit`, `mtu`, or a path MTU it learned.
 */
export function parseRouteMetrics(msg: NlMsg): RouteMetrics | undefined {
  need(msg, RTMSG_LEN, 'rtmsg');
  const nested = attr(parseAttrs(msg.payload, RTMSG_LEN), RTA_METRICS);
  if (nested === undefined) return undefined;
  const m = parseAttrs(nested, 0);
  const out: { -readonly [K in keyof RouteMetrics]: RouteMetrics[K] } = {};
  const mtu = attrU32(m, RTAX_MTU, 'RTA_METRICS');
  if (mtu !== undefined) out.mtu = mtu;
  const hoplimit = attrU32(m, RTAX_HOPLIMIT, 'RTA_METRICS');
  if (hoplimit !== undefined) out.hoplimit = hoplimit;
  return out;
}

// ---------------------------------------------------------------------------
// IPv6 (issue #13, the IPv6 overlay in routed mode): the same messages with
// AF_INET6 and 16-byte addresses. Kept here so the IPv4 builders above stay
// as they were; the route builder (routeRequest) and the parsers take any
// address length already.

export const AF_INET6 = 10;

/**
 * ifa_flags IFA_F_NODAD (include/uapi/linux/if_addr.h): no duplicate address
 * detection. The VTEP's `<subnet6>::/128` is the lease's, and the only other
 * station on the TAP's link is vxtap itself, which answers ND only for the
 * peers' addresses: DAD could only delay the address by a second (the
 * kernel keeps it "tentative", unusable as a source, meanwhile) and send an
 * NS that the switch counts as an nd-miss drop.
 */
export const IFA_F_NODAD = 0x02;

/**
 * RTM_NEWADDR or RTM_DELADDR of an IPv6 address (16 bytes, network order)
 * with IFA_LOCAL = IFA_ADDRESS, as `ip -6 addr add ADDR/LEN dev DEV
 * [nodad]` sends it (iproute2 sends both attributes for either family).
 */
export function addr6Request(seq: number, type: typeof RTM_NEWADDR | typeof RTM_DELADDR, flags: number,
  a: { index: number; prefixLen: number; addr: Buffer; nodad?: boolean }): Buffer {
  if (a.addr.length !== 16) throw new WireError(`an IPv6 address is 16 bytes, got ${a.addr.length}`);
  if (!Number.isInteger(a.prefixLen) || a.prefixLen < 0 || a.prefixLen > 128) throw new WireError(`IPv6 prefix length ${a.prefixLen} is outside 0..128`);
  return emitRequest(type, NLM_F_REQUEST | NLM_F_ACK | flags, seq,
    emitIfaddrmsg({ family: AF_INET6, prefixLen: a.prefixLen, flags: a.nodad === true ? IFA_F_NODAD : 0, index: a.index }),
    [[IFA_LOCAL, a.addr], [IFA_ADDRESS, a.addr]]);
}
