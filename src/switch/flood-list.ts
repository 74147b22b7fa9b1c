/**
 * The flood list: the VTEPs of an L2 segment, where broadcast, multicast and
 * unknown-unicast frames from the TAP are replicated (head-end replication,
 * RFC 7348 section 4.2 without an underlay multicast group). The user-space
 * counterpart of the kernel's all-zero FDB entries (`bridge fdb append
 * 00:00:00:00:00:00 dev vxlan0 dst 192.168.90.2`).
 *
 * Held as parallel typed arrays so that the hot path loops over `eps` (each
 * VTEP's index in the switch's endpoint table, io/endpoints.ts: interned on
 * add, released on remove) from 0 to `size` with no iterator and no
 * allocation; `addrs` / `ports` say the same for the control plane. A Map from
 * address to index answers has() for decap's source check. The control plane
 * changes it (add / remove, between batches); a removal moves the last entry
 * into the hole, so the order is not kept (replication has no order).
 */
import { ConfigError } from '../errors';
import { EndpointTable } from '../io/endpoints';
import { formatVtep, isV6Key } from '../io/vtep-key';

export class FloodList {
  /** VTEP underlay IPv4s, host-order u32: [0, size). */
  addrs: Uint32Array;
  /** Their UDP ports: [0, size). */
  ports: Uint16Array;
  /** Their indices in `endpoints`: [0, size). What a flood copy's send-list entry carries. */
  eps: Int32Array;
  private n = 0;
  private readonly index = new Map<number, number>();

  /**
   * `segmentPort`: when set, every VTEP must use it (add() throws
   * otherwise). The Switch sets it: a raw-socket port sends the UDP header
   * written once in front of the frame for every copy, so one destination
   * port serves all (RFC 7348: the segment's port; the source port is a flow hash).
   */
  constructor(
    readonly segmentPort: number | null = null,
    capacity = 8,
    /** The table the VTEPs are interned into (the Switch's, shared with its FDB); default: one of the list's own. */
    readonly endpoints: EndpointTable = new EndpointTable(),
  ) {
    this.addrs = new Uint32Array(capacity);
    this.ports = new Uint16Array(capacity);
    this.eps = new Int32Array(capacity);
  }

  get size(): number {
    return this.n;
  }

  has(ip: number): boolean {
    return this.index.has(ip);
  }

  /** Adds a VTEP, or updates its port. Returns true when it was not on the list. */
  add(ip: number, port: number): boolean {
    if (!Number.isInteger(ip) || ip < 0 || (ip > 0xffffffff && !isV6Key(ip))) throw new RangeError(`flood list: bad VTEP key ${ip}`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`flood list: bad UDP port ${port}`);
    if (this.segmentPort !== null && port !== this.segmentPort) {
      throw new ConfigError(`flood list: VTEP ${formatVtep(ip)} uses UDP port ${port}, but the segment uses ${this.segmentPort}`, 'port');
    }
    const at = this.index.get(ip);
    if (at !== undefined) {
      if (this.ports[at] !== port) {
        const ep = this.endpoints.intern(ip, port);
        this.endpoints.release(this.eps[at]!);
        this.eps[at] = ep;
        this.ports[at] = port;
      }
      return false;
    }
    if (this.n === this.addrs.length) this.grow();
    this.addrs[this.n] = ip;
    this.ports[this.n] = port;
    this.eps[this.n] = this.endpoints.intern(ip, port);
    this.index.set(ip, this.n);
    this.n++;
    return true;
  }

  /** Removes a VTEP. Returns whether it was on the list. */
  remove(ip: number): boolean {
    const at = this.index.get(ip);
    if (at === undefined) return false;
    this.endpoints.release(this.eps[at]!);
    const last = this.n - 1;
    if (at !== last) {
      this.addrs[at] = this.addrs[last]!;
      this.ports[at] = this.ports[last]!;
      this.eps[at] = this.eps[last]!;
      this.index.set(this.addrs[at]!, at);
    }
    this.index.delete(ip);
    this.n = last;
    return true;
  }

  /** The VTEPs, for `vxtap fdb`, tests and the trace: objects, off the hot path. */
  entries(): { ip: number; port: number }[] {
    const out: { ip: number; port: number }[] = [];
    for (let i = 0; i < this.n; i++) out.push({ ip: this.addrs[i]!, port: this.ports[i]! });
    return out;
  }

  private grow(): void {
    const addrs = new Uint32Array(this.addrs.length * 2);
    const ports = new Uint16Array(this.ports.length * 2);
    const eps = new Int32Array(this.eps.length * 2);
    addrs.set(this.addrs);
    ports.set(this.ports);
    eps.set(this.eps);
    this.addrs = addrs;
    this.ports = ports;
    this.eps = eps;
  }
}
