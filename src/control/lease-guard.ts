/**
 * The guard between a peer source and the installer: only leases that pass
 * lease-rules.ts reach the tables and the kernel, whatever etcd or a peers
 * file says.
 *
 * It wraps a PeerSource and is one itself (the installer does not know it is
 * there). It keeps every lease the source offers (the candidates) and, after
 * each batch, decides again which are accepted, oldest first (etcd's create
 * revision; a file's order): a lease that collides with an older accepted one
 * (overlapping subnet, the same VtepMAC or PublicIP) is refused until the
 * older one goes. The consumer gets the difference between the accepted sets,
 * so:
 *   - a refused lease never displaces anything;
 *   - when an obstacle goes (the older lease is deleted, the route that was in
 *     the way is removed, this host's subnet changes) the refused lease is
 *     examined again and installed;
 *   - deleting a bad lease leaves nothing to repair.
 * The host's addresses and routes are read again before each decision (at
 * most once a second) and every 10 s while a lease is refused for them.
 *
 * Each refusal is logged once (per lease and reason) and counted by reason.
 *
 * A dual-stack lease's IPv6 half is decided after its IPv4 half, against
 * the older accepted IPv6 halves (lease-rules.ts, checkHalf6): refused, it
 * is taken off the peer that the consumer gets (subnet6, publicIpv6,
 * vtepMac6 removed) and the IPv4 half stands. While no lease has an IPv6
 * half, the incremental path below works as before.
 */
import { diffPeers, samePeer, type Peer, type PeerEvent, type PeerSource } from './peers';
import {
  checkHalf6, checkPublicIp, checkShape, checkSubnetAgainstHost, checkVtepMac, EMPTY_HOST_VIEW, REFUSAL_REASONS,
  type HostView, type NetworkShape, type Refusal, type RefusalReason, type Self,
} from './lease-rules';
import { cidr6Contains, cidr6Overlaps, formatCidr6, isIpv6, parseCidr6, parseIpv6, type Ipv6Cidr } from './ip6';
import { cidrContains, formatCidr, parseCidr, parseIpv4, prefixMask, type Ipv4Cidr } from '../wire/addr';

export interface LeaseGuardOptions {
  readonly self: Self;
  /** The network's shape (etcd); null for a static file. */
  readonly shape: NetworkShape | null;
  /** Reads the host's addresses and foreign routes; default: none. */
  readonly hostView?: () => Promise<HostView>;
  /** A lease refused, or accepted after a refusal. */
  readonly onRefused?: (peer: Peer, r: Refusal) => void;
  readonly onAccepted?: (peer: Peer, previously: Refusal) => void;
  /** A failed read of the host view (the last one stays in use). */
  readonly onHostViewError?: (err: Error) => void;
  /** Re-examination period while leases are refused, ms. Default 10000. */
  readonly recheckMs?: number;
}

/** A refused lease, for status output. */
export interface RefusedLease extends Refusal {
  readonly peer: Peer;
}

const HOST_VIEW_MAX_AGE_MS = 1000;

export class GuardedPeerSource implements PeerSource {
  /** Refusals so far by reason (each lease version refused once). */
  readonly refusals: Record<RefusalReason, number> = Object.fromEntries(REFUSAL_REASONS.map((r) => [r, 0])) as Record<RefusalReason, number>;
  private self: Self;
  /** Every lease the source offers, by subnet, with its age order, parsed once. */
  private readonly candidates = new Map<string, Candidate>();
  /** Bumped when the host view or this host changes: the cached lease-only checks are then stale. */
  private epoch = 0;
  private accepted = new Map<string, Peer>();
  private readonly refusedNow = new Map<string, RefusedLease>();
  /** Leases accepted without their IPv6 half, by subnet, with why the half was refused. */
  private readonly refused6Now = new Map<string, RefusedLease>();
  /** How many candidates have an IPv6 half (then every decision is a full one). */
  private v6Candidates = 0;
  private view: HostView = EMPTY_HOST_VIEW;
  private viewSig = '';
  private viewAt = -Infinity;
  private seq = 0;
  private tail: Promise<void> = Promise.resolve();
  /** Changes queued for the next decision (enqueue): a source's batch, or anything else. */
  private readonly changes: Change[] = [];
  /**
   * What the last committed decision left: the accepted leases' prefixes,
   * MACs and PublicIPs, the oldest order seen, and the epoch it was made in.
   * The incremental path (decideFast) builds on it; -1: not usable.
   */
  private state: { taken: PrefixSet; macs: Map<string, string>; ips: Map<string, string>; maxOrder: number; epoch: number } | null = null;
  private forceView = false;
  private onEvents: ((batch: PeerEvent[]) => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly inner: PeerSource, private readonly opts: LeaseGuardOptions) {
    this.self = opts.self;
  }

  /** The leases refused now, with why. */
  get refused(): RefusedLease[] {
    return [...this.refusedNow.values(), ...this.refused6Now.values()];
  }

  async snapshot(): Promise<Peer[]> {
    const peers = await this.inner.snapshot();
    this.offer(peers.map((peer) => ({ type: 'added' as const, peer })));
    await this.readView(true);
    this.accepted = this.decide();
    this.armRecheck();
    return [...this.accepted.values()];
  }

  watch(onEvents: (batch: PeerEvent[]) => void): void {
    this.onEvents = onEvents;
    this.inner.watch((batch) => { void this.enqueue({ offer: batch }, false); });
    // What changed while the snapshot was being installed (a re-check found an obstacle gone) is emitted now.
    void this.enqueue({ fn: () => { /* decide again, now that someone listens */ } }, false);
  }

  /** This host's subnet changed (a lease moved): decide again; returns when the difference was emitted. */
  setSelf(self: Self): Promise<void> {
    return this.enqueue({ fn: () => { this.self = self; this.epoch++; } }, false);
  }

  /** Resolves when every change queued so far has been decided (and emitted). */
  settled(): Promise<void> {
    return this.tail;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) { clearInterval(this.timer); this.timer = null; }
    this.onEvents = null;
    await this.inner.close();
  }

  // ---- deciding --------------------------------------------------------------------

  /**
   * Queues `change`, then decides again and emits the difference. One run at
   * a time, in order; a run takes every change queued by then and decides
   * once, so a burst of single-lease watch batches costs one decision, not
   * one each. Before watch() nobody listens: the accepted set is then left
   * as the consumer has it, and watch() decides again.
   */
  private enqueue(change: Change, forceView: boolean): Promise<void> {
    this.changes.push(change);
    if (forceView) this.forceView = true;
    const run = this.tail.then(() => this.decideQueued());
    this.tail = run.catch(() => { /* decide() does not throw; a consumer's throw stays its own */ });
    return this.tail;
  }

  private async decideQueued(): Promise<void> {
    if (this.closed || this.changes.length === 0) return; // an earlier run took these changes
    const changes = this.changes.splice(0);
    const force = this.forceView;
    this.forceView = false;
    for (const c of changes) c.fn?.();
    await this.readView(force);
    if (this.closed) return;
    if (this.onEvents !== null && this.decideFast(changes)) return;
    for (const c of changes) if (c.offer) this.offer(c.offer);
    const next = this.decide();
    this.armRecheck();
    if (this.onEvents === null) {
      this.state = null; // built for `next`, which the consumer does not have
      return; // the consumer has `accepted` (the snapshot); watch() decides again
    }
    const batch = diffPeers([...this.accepted.values()], [...next.values()]);
    this.accepted = next;
    if (batch.length > 0) this.onEvents(batch);
  }

  /**
   * The common case without deciding everything again: only leases removed
   * and new leases added (younger than every other), nothing refused now,
   * the host unchanged since the last decision. Then no removal can let a
   * refused lease in, and each new lease is checked against what is accepted,
   * as the full decision would check it last. Returns false (nothing done)
   * when the case does not hold.
   */
  private decideFast(changes: readonly Change[]): boolean {
    const st = this.state;
    if (st === null || st.epoch !== this.epoch || this.refusedNow.size > 0 || this.v6Candidates > 0) return false;
    const removed: Peer[] = [];
    const added: Peer[] = [];
    // Each subnet once in the run: then removals first, additions after, give the final state.
    const seen = new Set<string>();
    let order = st.maxOrder;
    for (const c of changes) {
      if (c.fn) return false;
      for (const ev of c.offer ?? []) {
        if (seen.has(ev.peer.subnet)) return false;
        seen.add(ev.peer.subnet);
        if (ev.type === 'removed') { removed.push(ev.peer); continue; }
        if (this.candidates.has(ev.peer.subnet)) return false; // rewritten in place: its age and checks change
        if (ev.peer.subnet6 !== undefined) return false; // IPv6 halves are decided by the full path
        const o = ev.peer.order;
        if (o !== undefined && o <= order) return false;
        if (o !== undefined) order = o;
        added.push(ev.peer);
      }
    }
    const out: PeerEvent[] = [];
    for (const peer of removed) {
      const c = this.candidates.get(peer.subnet);
      if (c === undefined) continue;
      this.deleteCandidate(peer.subnet);
      const was = this.accepted.get(peer.subnet);
      if (was === undefined) continue;
      this.accepted.delete(peer.subnet);
      st.taken.remove(c.subnet);
      st.macs.delete(c.mac);
      st.ips.delete(c.peer.publicIp);
      out.push({ type: 'removed', peer: was });
    }
    for (const peer of added) {
      const c = candidateOf(peer, peer.order ?? this.seq++);
      st.maxOrder = Math.max(st.maxOrder, c.order);
      this.setCandidate(peer.subnet, c);
      const r = this.check(c, st.taken, st.macs, st.ips);
      if (r === null) {
        this.accepted.set(peer.subnet, peer);
        st.taken.add(c.subnet);
        st.macs.set(c.mac, peer.subnet);
        st.ips.set(peer.publicIp, peer.subnet);
        out.push({ type: 'added', peer });
      } else {
        this.refusedNow.set(peer.subnet, { ...r, peer });
        this.refusals[r.reason]++;
        this.opts.onRefused?.(peer, r);
      }
    }
    this.armRecheck();
    if (out.length > 0) this.onEvents!(out);
    return true;
  }

  private offer(batch: readonly PeerEvent[]): void {
    for (const ev of batch) {
      if (ev.type === 'added') {
        const old = this.candidates.get(ev.peer.subnet);
        // A lease rewritten in place keeps its age; a new one is the youngest.
        this.setCandidate(ev.peer.subnet, candidateOf(ev.peer, ev.peer.order ?? old?.order ?? this.seq++));
      } else {
        this.deleteCandidate(ev.peer.subnet);
      }
    }
  }

  private setCandidate(subnet: string, c: Candidate): void {
    this.deleteCandidate(subnet);
    this.candidates.set(subnet, c);
    if (c.peer.subnet6 !== undefined) this.v6Candidates++;
  }

  private deleteCandidate(subnet: string): void {
    const old = this.candidates.get(subnet);
    if (old === undefined) return;
    this.candidates.delete(subnet);
    if (old.peer.subnet6 !== undefined) this.v6Candidates--;
  }

  /** The accepted set, oldest lease first; refusals recorded, logged and counted when new. */
  private decide(): Map<string, Peer> {
    const ordered = [...this.candidates.values()].sort((a, b) => a.order - b.order || (a.peer.subnet < b.peer.subnet ? -1 : 1));
    const accepted = new Map<string, Peer>();
    const taken = new PrefixSet();
    const macs = new Map<string, string>();
    const ips = new Map<string, string>();
    const refusedBefore = new Map(this.refusedNow);
    const refused6Before = new Map(this.refused6Now);
    this.refusedNow.clear();
    this.refused6Now.clear();
    const v6: Taken6 = { subnets: [], ips: new Map(), macs: new Map() };
    let maxOrder = -Infinity;
    for (const c of ordered) {
      maxOrder = Math.max(maxOrder, c.order);
      const { peer } = c;
      const r = this.check(c, taken, macs, ips);
      if (r === null) {
        const was = refusedBefore.get(peer.subnet);
        if (was && samePeer(was.peer, peer)) this.opts.onAccepted?.(peer, was);
        let out = peer;
        if (c.half6 !== null) {
          const r6 = this.check6(c, v6, macs);
          if (r6 === null) {
            v6.subnets.push({ cidr: c.half6.subnet6, subnet: peer.subnet });
            if (c.half6.ip6 !== null) v6.ips.set(c.half6.ip6, peer.subnet);
            if (c.half6.mac6 !== null) v6.macs.set(c.half6.mac6, peer.subnet);
            const was6 = refused6Before.get(peer.subnet);
            if (was6 && samePeer(was6.peer, peer)) this.opts.onAccepted?.(peer, was6);
          } else {
            out = { subnet: peer.subnet, publicIp: peer.publicIp, vtepMac: peer.vtepMac, ...(peer.order !== undefined ? { order: peer.order } : {}), ...(peer.source !== undefined ? { source: peer.source } : {}) };
            const was6 = refused6Before.get(peer.subnet);
            this.refused6Now.set(peer.subnet, { ...r6, peer });
            if (!was6 || !samePeer(was6.peer, peer) || was6.reason !== r6.reason) {
              this.refusals[r6.reason]++;
              this.opts.onRefused?.(peer, r6);
            }
          }
        }
        accepted.set(peer.subnet, out);
        taken.add(c.subnet);
        macs.set(c.mac, peer.subnet);
        ips.set(peer.publicIp, peer.subnet);
        continue;
      }
      const was = refusedBefore.get(peer.subnet);
      const entry: RefusedLease = { ...r, peer };
      this.refusedNow.set(peer.subnet, entry);
      if (!was || !samePeer(was.peer, peer) || was.reason !== r.reason) {
        this.refusals[r.reason]++;
        this.opts.onRefused?.(peer, r);
      }
    }
    this.state = { taken, macs, ips, maxOrder, epoch: this.epoch };
    return accepted;
  }

  private check(c: Candidate, taken: PrefixSet, macs: Map<string, string>, ips: Map<string, string>): Refusal | null {
    const { peer, subnet } = c;
    // The checks that need only the lease, this host and its kernel: kept until either changes.
    if (c.epoch !== this.epoch) {
      const shape = this.opts.shape;
      c.own = checkShape(subnet, shape)
        ?? checkSubnetAgainstHost(subnet, this.self, this.view)
        ?? checkPublicIp(peer.publicIp, this.self, shape, this.view)
        ?? checkVtepMac(peer.vtepMac, this.self);
      c.epoch = this.epoch;
    }
    if (c.own !== null) return c.own;
    const other = taken.overlapping(subnet);
    if (other !== null) return { reason: 'overlap', detail: `${peer.subnet} overlaps the older lease ${formatCidr(other)}` };
    const ipOwner = c.ip === null ? null : taken.containing(c.ip);
    if (ipOwner !== null) return { reason: 'public-ip', detail: `PublicIP ${peer.publicIp} is inside the lease ${formatCidr(ipOwner)}: VXLAN to it would loop through the TAP` };
    const sameIp = ips.get(peer.publicIp);
    if (sameIp !== undefined) return { reason: 'public-ip', detail: `PublicIP ${peer.publicIp} already holds the older lease ${sameIp}` };
    const sameMac = macs.get(c.mac);
    if (sameMac !== undefined) return { reason: 'vtep-mac', detail: `VtepMAC ${peer.vtepMac} is already bound to the older lease ${sameMac}` };
    return null;
  }

  /**
   * The IPv6 half of a lease whose IPv4 half is accepted: the lease-only
   * checks (cached like the IPv4 ones), then against the older accepted
   * IPv6 halves and every accepted VTEP MAC. A refusal's detail says that
   * only the IPv6 half goes.
   */
  private check6(c: Candidate, v6: Taken6, macs4: Map<string, string>): Refusal | null {
    const h = c.half6!;
    const { peer } = c;
    const s = formatCidr6(h.subnet6);
    const only = (r: Refusal): Refusal => ({ reason: r.reason, detail: `IPv6 half ${s} refused, the IPv4 half ${peer.subnet} is used: ${r.detail}` });
    if (c.epoch6 !== this.epoch) {
      c.own6 = checkHalf6({ subnet6: s, publicIpv6: peer.publicIpv6, vtepMac6: peer.vtepMac6 }, this.self, this.opts.shape === null ? undefined : this.opts.shape.ipv6 ?? null);
      c.epoch6 = this.epoch;
    }
    if (c.own6 !== null) return only(c.own6);
    const other = v6.subnets.find((t) => cidr6Overlaps(t.cidr, h.subnet6));
    if (other !== undefined) return only({ reason: 'overlap6', detail: `${s} overlaps the IPv6 subnet ${formatCidr6(other.cidr)} of the older lease ${other.subnet}` });
    if (h.ip6 !== null) {
      const inside = v6.subnets.find((t) => cidr6Contains(t.cidr, h.ip6!));
      if (inside !== undefined) return only({ reason: 'public-ipv6', detail: `PublicIPv6 ${peer.publicIpv6!} is inside the IPv6 subnet ${formatCidr6(inside.cidr)} of the lease ${inside.subnet}: VXLAN to it would loop through the TAP` });
      const sameIp = v6.ips.get(h.ip6);
      if (sameIp !== undefined) return only({ reason: 'public-ipv6', detail: `PublicIPv6 ${peer.publicIpv6!} already holds the older lease ${sameIp}` });
    }
    if (h.mac6 !== null) {
      const owner = v6.macs.get(h.mac6) ?? macs4.get(h.mac6);
      if (owner !== undefined && owner !== peer.subnet) return only({ reason: 'vtep-mac6', detail: `BackendV6Data.VtepMAC ${h.mac6} is already bound to the older lease ${owner}` });
    }
    return null;
  }

  // ---- the host's side -------------------------------------------------------------

  private async readView(force: boolean): Promise<void> {
    const read = this.opts.hostView;
    if (read === undefined) return;
    if (!force && Date.now() - this.viewAt < HOST_VIEW_MAX_AGE_MS) return;
    try {
      const view = await read();
      this.viewAt = Date.now();
      // The cached checks stay good while the host's addresses and routes are the same.
      const sig = JSON.stringify(view);
      if (sig !== this.viewSig) {
        this.view = view;
        this.viewSig = sig;
        this.epoch++;
      }
    } catch (err) {
      this.opts.onHostViewError?.(err as Error);
    }
  }

  /** While a lease is refused, decide again now and then: a route or another lease may have gone. */
  private armRecheck(): void {
    if (this.closed) return;
    if (this.refusedNow.size === 0 && this.refused6Now.size === 0) {
      if (this.timer) { clearInterval(this.timer); this.timer = null; }
      return;
    }
    if (this.timer) return;
    this.timer = setInterval(() => { void this.enqueue({ fn: () => { /* nothing changed here; the host may have */ } }, true); }, this.opts.recheckMs ?? 10000);
    this.timer.unref();
  }
}

/**
 * A set of IPv4 prefixes that answers "does anything overlap this one?" in
 * at most 33 map probes: each prefix is stored with all its ancestors, so a
 * prefix overlaps the set when one of its ancestors is a member or it is
 * itself the ancestor of a member.
 */
export class PrefixSet {
  private readonly members = new Map<number, Ipv4Cidr>();
  /** key of an ancestor (or the prefix itself) -> how many members lie below it. */
  private readonly covers = new Map<number, number>();
  /** The members' prefix lengths, ascending (a network's leases share one: one probe, not 33). */
  private readonly lengths: number[] = [];

  add(c: Ipv4Cidr): void {
    const k = key(c.addr, c.len);
    if (this.members.has(k)) return;
    this.members.set(k, c);
    if (!this.lengths.includes(c.len)) {
      this.lengths.push(c.len);
      this.lengths.sort((a, b) => a - b);
    }
    for (let len = c.len; len >= 0; len--) {
      const a = key((c.addr & prefixMask(len)) >>> 0, len);
      this.covers.set(a, (this.covers.get(a) ?? 0) + 1);
    }
  }

  remove(c: Ipv4Cidr): void {
    if (!this.members.delete(key(c.addr, c.len))) return;
    for (let len = c.len; len >= 0; len--) {
      const a = key((c.addr & prefixMask(len)) >>> 0, len);
      const n = (this.covers.get(a) ?? 1) - 1;
      if (n === 0) this.covers.delete(a);
      else this.covers.set(a, n);
    }
  }

  /** A member that overlaps `c`, or null. */
  overlapping(c: Ipv4Cidr): Ipv4Cidr | null {
    if ((this.covers.get(key(c.addr, c.len)) ?? 0) > 0) {
      // Some member lies inside c (or is c): find one, for the message (a refusal: the rare path).
      for (const m of this.members.values()) if (m.len >= c.len && cidrContains(c, m.addr)) return m;
    }
    return this.containing(c.addr, c.len);
  }

  /** A member that contains the address (or the prefix of `len` at it), or null. */
  containing(addr: number, len = 32): Ipv4Cidr | null {
    for (const l of this.lengths) {
      if (l > len) break;
      const m = this.members.get(key((addr & prefixMask(l)) >>> 0, l));
      if (m !== undefined) return m;
    }
    return null;
  }
}

/** A prefix as one number: len * 2^32 + addr (exact: below 2^38). */
function key(addr: number, len: number): number {
  return len * 0x1_0000_0000 + addr;
}

/** A queued change: a source's batch, or a function (this host moved, a re-check). */
interface Change {
  readonly offer?: readonly PeerEvent[];
  readonly fn?: () => void;
}

/** A lease as the guard keeps it: parsed once, with the lease-only checks' result while `epoch` holds. */
interface Candidate {
  readonly peer: Peer;
  readonly order: number;
  readonly subnet: Ipv4Cidr;
  /** PublicIP as a number; null when it does not parse (checkPublicIp refuses it). */
  readonly ip: number | null;
  readonly mac: string;
  own: Refusal | null;
  epoch: number;
  /** The IPv6 half, parsed; null when the lease has none (or its subnet6 does not parse: checkHalf6 refuses it). */
  readonly half6: { readonly subnet6: Ipv6Cidr; readonly ip6: bigint | null; readonly mac6: string | null } | null;
  own6: Refusal | null;
  epoch6: number;
}

/** The accepted IPv6 halves of one decision. */
interface Taken6 {
  readonly subnets: { readonly cidr: Ipv6Cidr; readonly subnet: string }[];
  readonly ips: Map<bigint, string>;
  readonly macs: Map<string, string>;
}

function candidateOf(peer: Peer, order: number): Candidate {
  let ip: number | null = null;
  try { ip = parseIpv4(peer.publicIp); } catch { /* refused by checkPublicIp */ }
  let half6: Candidate['half6'] = null;
  if (peer.subnet6 !== undefined) {
    let subnet6: Ipv6Cidr;
    try { subnet6 = parseCidr6(peer.subnet6); } catch { subnet6 = { addr: 0n, len: 0 }; /* ::/0: refused by checkShape6 */ }
    half6 = {
      subnet6,
      ip6: peer.publicIpv6 !== undefined && isIpv6(peer.publicIpv6) ? parseIpv6(peer.publicIpv6) : null,
      mac6: peer.vtepMac6 !== undefined ? peer.vtepMac6.toLowerCase() : null,
    };
  }
  return { peer, order, subnet: parseCidr(peer.subnet), ip, mac: peer.vtepMac.toLowerCase(), own: null, epoch: -1, half6, own6: null, epoch6: -1 };
}
