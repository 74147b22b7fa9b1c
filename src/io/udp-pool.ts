/**
 * The send pool of BatchUdpPort's UDP GSO mode: `count` send-only UDP
 * sockets bound to the contiguous source ports min .. min + count - 1, inside
 * RFC 7348's 49152-65535. The VXLAN flow hash picks the port, and so the
 * socket (native/udp-pool.cc says why a pool: a raw socket can write any
 * source port but cannot use UDP GSO; a UDP socket can, from its one port).
 */
import { toSystemError, type Addon } from './native';
import type { SendList } from './port';

/** RFC 7348 section 5: the outer source port is in the dynamic range 49152-65535. */
const SOURCE_PORT_MIN = 49152;

export interface SendPool {
  /** fds[i] is bound to port min + i. */
  readonly fds: Int32Array;
  readonly min: number;
}

/** Default pool size: 64 source ports (6 bits of ECMP entropy per VTEP pair). */
export const POOL_PORTS = 64;

/**
 * Binds `count` ports at a random block start (aligned to count) and tries
 * other blocks when a port is taken. Throws SystemError (EADDRINUSE after
 * `tries` blocks, EADDRNOTAVAIL for a srcIp that is not ours, ...).
 */
export function openSendPool(addon: Addon, srcIp: string, opts: { count?: number; sndbuf?: number; tries?: number } = {}): SendPool {
  const count = opts.count ?? POOL_PORTS;
  const blocks = Math.floor((65536 - SOURCE_PORT_MIN) / count);
  const tries = opts.tries ?? 8;
  let last: unknown = null;
  for (let t = 0; t < tries; t++) {
    const min = SOURCE_PORT_MIN + Math.floor(Math.random() * blocks) * count;
    const fds = new Int32Array(count);
    let opened = 0;
    try {
      for (; opened < count; opened++) {
        fds[opened] = addon.udpOpen(srcIp, min + opened, { sndbuf: opts.sndbuf, sendOnly: true });
      }
      return { fds, min };
    } catch (err) {
      for (let i = 0; i < opened; i++) addon.close(fds[i]!);
      last = err;
      if ((err as { code?: string }).code !== 'EADDRINUSE') break;
    }
  }
  throw toSystemError(last);
}

export function closeSendPool(addon: Addon, pool: SendPool): void {
  for (const fd of pool.fds) addon.close(fd);
}

/**
 * The slots of the pool send's request (native/pool-send.h names the same
 * on the addon's side; a unit test checks they agree): refs[PS_*] hold the
 * arrays, scalars[PS_COUNT ..] the numbers of one send.
 */
export const PS_FDS = 0;
export const PS_SLAB = 1;
export const PS_STARTS = 2;
export const PS_LENS = 3;
export const PS_ENDPOINTS = 4;
export const PS_EPS = 5;
export const PS_SRC_PORTS = 6;
export const PS_AUX = 7;
export const PS_WHOLE = 8;
export const PS_WHOLE_OF = 9;
export const PS_ERR_OUT = 10;
export const PS_GSO_OUT = 11;
export const PS_STATUS = 12;
export const PS_SCALARS = 13;
export const PS_REFS = 14;
export const PS_COUNT = 0;
export const PS_GSO = 1;
export const PS_PORT_MIN = 2;
export const PS_SCALAR_SLOTS = 3;

/**
 * One pool send request, built once and bound to the addon (its PoolSend
 * pins every array): a send writes two scalars and crosses with no
 * argument. Reading a JS object's named properties through N-API costs
 * 2-3 µs per call, and sixteen positional arguments most of that; typed
 * arrays whose slots are named constants on both sides cost nothing per
 * call. The binding is made again only when an array changes: another
 * slab or send list (a list grown for a larger flood list), the endpoint
 * table grown, super-frames kept whole or not.
 */
export class PoolSend {
  readonly scalars = new Int32Array(PS_SCALAR_SLOTS);
  private bound: { send(): number } | null = null;
  private slab: Buffer | null = null;
  private list: SendList | null = null;
  private table: Buffer | null = null;
  private aux: Buffer | null = null;

  constructor(
    private readonly addon: Addon,
    private readonly pool: SendPool,
    /** [skipped, last errno], as udpSend's errOut. */
    readonly errOut: Int32Array,
    /** GsoPolicy.out. */
    readonly gsoOut: Int32Array,
  ) {
    this.scalars[PS_PORT_MIN] = pool.min;
  }

  /** Sends list entries 0 .. count-1 (see Addon.PoolSend); gso: GsoPolicy.gsoArg(). Returns the entries sent. */
  send(slab: Buffer, list: SendList, gso: number): number {
    const aux = list.wholeFrom?.aux ?? null;
    if (this.bound === null || slab !== this.slab || list !== this.list || list.endpoints.buf !== this.table || aux !== this.aux) {
      this.bind(slab, list, aux);
    }
    const sc = this.scalars;
    sc[PS_COUNT] = list.count;
    sc[PS_GSO] = gso;
    return this.bound!.send();
  }

  private bind(slab: Buffer, list: SendList, aux: Buffer | null): void {
    const refs: unknown[] = new Array<unknown>(PS_REFS);
    refs[PS_FDS] = this.pool.fds;
    refs[PS_SLAB] = slab;
    refs[PS_STARTS] = list.starts;
    refs[PS_LENS] = list.lens;
    refs[PS_ENDPOINTS] = list.endpoints.buf;
    refs[PS_EPS] = list.eps;
    refs[PS_SRC_PORTS] = list.srcPorts;
    refs[PS_AUX] = aux ?? undefined;
    refs[PS_WHOLE] = list.wholeFrom?.whole ?? undefined;
    refs[PS_WHOLE_OF] = list.wholeOf;
    refs[PS_ERR_OUT] = this.errOut;
    refs[PS_GSO_OUT] = this.gsoOut;
    refs[PS_STATUS] = list.status;
    refs[PS_SCALARS] = this.scalars;
    this.bound = new this.addon.PoolSend(refs);
    this.slab = slab;
    this.list = list;
    this.table = list.endpoints.buf;
    this.aux = aux;
  }
}

/**
 * Well-formed GSO sends refused in a row, with no GSO send accepted between
 * them, that turn UDP GSO off. Well-formed: within the kernel's limits (at
 * most 64 segments, 65507 bytes, which the addon never exceeds) and refused
 * with EIO or EINVAL, which is the kernel refusing the offload itself (a
 * device without TX checksum offload before Linux 6.11, IPsec on the path):
 * every later GSO send would be refused too. One refusal, or a few among
 * accepted sends, costs a resend and leaves GSO on.
 */
export const GSO_REFUSALS_TO_DISABLE = 8;

/**
 * How long a segment limit learned from EMSGSIZE holds: then longer segments
 * are tried with GSO again, in case the path MTU grew (the kernel keeps a
 * learned path MTU as long: net.ipv4.route.mtu_expires, 600 s).
 */
export const SEGMENT_LIMIT_MS = 600_000;

/** The longest datagram the addon segments when nothing limits it (one IPv4 datagram of UDP payload). */
const MAX_SEGMENTED = 65507;

/** What UDP GSO did, for `vxtap stats` (the UDP port's counters, `gso`). */
export interface GsoCounters {
  /** GSO sends the kernel took, and the datagrams in them. */
  messages: number;
  datagrams: number;
  /** GSO sends the kernel refused, each sent again one datagram per send (that send only; GSO stays on). */
  fallbacks: number;
  /** Of those, the well-formed ones (EIO/EINVAL): GSO_REFUSALS_TO_DISABLE in a row turn GSO off. */
  refused: number;
  /** errno name of the last refused GSO send, or null. */
  lastRefusal: string | null;
  /** Datagrams sent one per send, not segmented, because longer than segmentLimit. */
  unsegmented: number;
  /** The longest datagram sent segmented, learned from EMSGSIZE (segments over the path MTU); null: no limit. */
  segmentLimit: number | null;
  /** Why GSO went off while running, or null while it is on. */
  disabled: string | null;
}

/**
 * When UDP GSO falls back, and when it goes off. The addon (PoolSend)
 * reports each send's GSO outcome in `out`; this keeps the counters and
 * decides:
 *  - a GSO send refused with EMSGSIZE (a segment plus IP and UDP headers
 *    over the path MTU: an oversized TSO frame, a path MTU below the plan)
 *    was sent again datagram by datagram; the smallest such segment teaches
 *    a limit, and longer datagrams are then sent unsegmented up front, for
 *    SEGMENT_LIMIT_MS, so the kernel is not asked again what it refused;
 *  - a well-formed GSO send refused (EIO/EINVAL) was sent again the same
 *    way; GSO_REFUSALS_TO_DISABLE of them in a row turn GSO off for good,
 *    once, with the reason.
 */
export class GsoPolicy {
  /** The pool send's gsoOut: out[0] (refusals in a row) carries over from one send to the next. */
  readonly out = new Int32Array(8);
  readonly counters: GsoCounters = {
    messages: 0, datagrams: 0, fallbacks: 0, refused: 0, lastRefusal: null, unsegmented: 0, segmentLimit: null, disabled: null,
  };

  private on: boolean;
  private limitUntil = 0;

  constructor(
    enabled: boolean,
    private readonly opts: { refusalsToDisable?: number; segmentLimitMs?: number; now?: () => number } = {},
  ) {
    this.on = enabled;
  }

  get enabled(): boolean {
    return this.on;
  }

  /** The pool send's `gso` for the next send: 0 when off, else the longest datagram to segment. */
  gsoArg(): number {
    if (!this.on) return 0;
    const c = this.counters;
    if (c.segmentLimit === null) return MAX_SEGMENTED;
    if ((this.opts.now ?? Date.now)() >= this.limitUntil) {
      c.segmentLimit = null;
      return MAX_SEGMENTED;
    }
    return c.segmentLimit;
  }

  /**
   * Takes in one send's `out`. Returns the reason when this send turned GSO
   * off (the caller logs it, once), else null.
   */
  afterSend(errnoName: (errno: number) => string): string | null {
    const o = this.out;
    const c = this.counters;
    c.messages += o[1]!;
    c.datagrams += o[2]!;
    c.unsegmented += o[7]!;
    if (o[3]! === 0) return null;
    c.fallbacks += o[3]!;
    c.refused += o[4]!;
    c.lastRefusal = errnoName(o[5]!);
    const tooBig = o[6]!;
    if (tooBig > 0 && (c.segmentLimit === null || tooBig - 1 < c.segmentLimit)) {
      c.segmentLimit = tooBig - 1;
      this.limitUntil = (this.opts.now ?? Date.now)() + (this.opts.segmentLimitMs ?? SEGMENT_LIMIT_MS);
    }
    const n = this.opts.refusalsToDisable ?? GSO_REFUSALS_TO_DISABLE;
    if (!this.on || o[0]! < n) return null;
    this.on = false;
    c.disabled = `refused on send: ${c.lastRefusal} (${o[0]!} well-formed GSO sends in a row)`;
    return c.disabled;
  }
}
