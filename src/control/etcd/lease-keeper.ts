/**
 * Keeps this host's subnet lease (flannel's CompleteLease, without its exit):
 *
 * - Renews the etcd lease `renewMargin` before it runs out (flannel's
 *   --subnet-lease-renew-margin, 60 min by default), at the latest after a
 *   third of the TTL, so a short test TTL is renewed too. A renewal is a
 *   keepalive of the same etcd lease: the key is not rewritten, so the
 *   other hosts' watches see nothing. A failed renewal (etcd unreachable)
 *   is retried with a backoff.
 * - Watches its own key (watch.ts: survives compaction and outages). When
 *   the key disappears (the lease expired, an operator deleted it) or another
 *   host's data replaced it, it acquires again with the old subnet as
 *   `previousSubnet`: the same subnet when it is still free. flannel exits in
 *   that case; vxtap carries on and reports it, so the daemon can log it and,
 *   if the subnet changed, reconfigure.
 *
 * Events come through `onEvent`; failures of a streak are reported once (the
 * first), not per attempt.
 */
import { parseCidr } from '../../wire/addr';
import { decodeLease } from './lease-codec';
import type { NetworkConfig } from './network-config';
import { LeaseGoneError } from './errors';
import type { OwnLease, SubnetRegistry } from './registry';
import { backoffDelay, ResilientWatch, type BackoffOptions, type Kv, type WatchUpdate } from './watch';

/** flannel's default renew margin: 60 minutes. */
export const DEFAULT_RENEW_MARGIN_SECONDS = 3600;

export type LeaseLostReason = 'expired' | 'deleted' | 'replaced';

export type LeaseKeeperEvent =
  | { readonly type: 'renewed'; readonly lease: OwnLease }
  /** The first failed renewal of a streak (retried with a backoff). */
  | { readonly type: 'renew-failed'; readonly lease: OwnLease; readonly error: Error }
  /** `takenBy`: for 'replaced', the PublicIP of the value now on the key (null when it is not a lease). */
  | { readonly type: 'lost'; readonly lease: OwnLease; readonly reason: LeaseLostReason; readonly takenBy: string | null }
  | { readonly type: 'reacquired'; readonly lease: OwnLease; readonly previous: OwnLease; readonly sameSubnet: boolean }
  /** The first failed attempt to acquire again (retried with a backoff). */
  | { readonly type: 'reacquire-failed'; readonly error: Error };

export interface KeepLeaseOptions {
  /** Renew this long before expiry (capped at 2/3 of the TTL). Default 3600 s. */
  readonly renewMarginSeconds?: number;
  readonly onEvent?: (e: LeaseKeeperEvent) => void;
  /** Backoff of retried renewals and acquisitions. Default 250 ms doubling to 5 s. */
  readonly retry?: BackoffOptions;
  /** Backoff of the own-key watch's reconnects. */
  readonly watchBackoff?: BackoffOptions;
  /** The config to re-acquire in; default: read it again from etcd. */
  readonly config?: NetworkConfig;
  /** Deadline of one renewal, ms. Default 5000. */
  readonly renewTimeoutMs?: number;
}

export class LeaseKeeper {
  private current: OwnLease;
  private watch: ResilientWatch | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private renewFailures = 0;
  private reacquiring = false;
  private closed = false;
  private pause: { timer: NodeJS.Timeout; resolve: () => void } | null = null;

  constructor(private readonly registry: SubnetRegistry, lease: OwnLease, private readonly opts: KeepLeaseOptions = {}) {
    this.current = lease;
    this.startWatch();
    this.scheduleRenew(renewDelayMs(lease.ttlSeconds, opts.renewMarginSeconds ?? DEFAULT_RENEW_MARGIN_SECONDS));
  }

  /** The lease as now held (it changes after a re-acquisition). */
  get lease(): OwnLease {
    return this.current;
  }

  /**
   * Stops renewing and watching. The lease stays in etcd until its TTL runs
   * out, as flannel leaves it, so a restart gets the same subnet back; call
   * registry.releaseLease() to give it up at once.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.renewTimer) { clearTimeout(this.renewTimer); this.renewTimer = null; }
    if (this.pause) { clearTimeout(this.pause.timer); this.pause.resolve(); this.pause = null; }
    await this.watch?.close();
    this.watch = null;
  }

  // ---- renewal -------------------------------------------------------------------

  private scheduleRenew(ms: number): void {
    if (this.closed) return;
    if (this.renewTimer) clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => { this.renewTimer = null; void this.renew(); }, ms);
  }

  private async renew(): Promise<void> {
    if (this.closed || this.reacquiring) return;
    const lease = this.current;
    try {
      const renewed = await this.registry.renewLease(lease, this.opts.renewTimeoutMs ?? 5000);
      if (this.closed || this.current !== lease) return;
      this.current = renewed;
      this.renewFailures = 0;
      this.emit({ type: 'renewed', lease: renewed });
      this.scheduleRenew(renewDelayMs(renewed.ttlSeconds, this.opts.renewMarginSeconds ?? DEFAULT_RENEW_MARGIN_SECONDS));
    } catch (err) {
      if (this.closed || this.current !== lease) return;
      if (err instanceof LeaseGoneError) {
        void this.lost('expired');
        return;
      }
      if (this.renewFailures++ === 0) this.emit({ type: 'renew-failed', lease, error: err as Error });
      this.scheduleRenew(backoffDelay(this.renewFailures, this.opts.retry));
    }
  }

  // ---- the own key ---------------------------------------------------------------

  private startWatch(): void {
    const lease = this.current;
    this.watch = new ResilientWatch(this.registry.client, {
      range: { key: lease.key },
      revision: lease.revision,
      onUpdate: (u) => this.onUpdate(lease, u),
      ...(this.opts.watchBackoff ? { backoff: this.opts.watchBackoff } : {}),
    });
    this.watch.start();
  }

  private onUpdate(lease: OwnLease, u: WatchUpdate): void {
    if (this.closed || this.current.key !== lease.key) return;
    let kv: Kv | null | undefined; // undefined: no news about the key
    if (u.kind === 'reset') {
      kv = u.kvs.find((k) => k.key === lease.key) ?? null;
    } else {
      for (const c of u.changes) kv = c.type === 'put' ? c.kv : null;
    }
    if (kv === undefined) return;
    if (kv === null) {
      void this.lost('deleted');
      return;
    }
    if (!this.isOurs(kv)) {
      void this.lost('replaced', publicIpOf(kv));
      return;
    }
    if (kv.lease !== this.current.leaseId && kv.lease !== '0') {
      // Rewritten by this host (a re-acquisition moved it to a fresh etcd lease).
      this.current = { ...this.current, leaseId: kv.lease, revision: kv.modRevision };
    }
  }

  private isOurs(kv: Kv): boolean {
    return publicIpOf(kv) === this.current.publicIp;
  }

  // ---- losing and taking it back ---------------------------------------------------

  private async lost(hint: LeaseLostReason, takenBy: string | null = null): Promise<void> {
    if (this.closed || this.reacquiring) return;
    this.reacquiring = true;
    if (this.renewTimer) { clearTimeout(this.renewTimer); this.renewTimer = null; }
    const previous = this.current;
    let reason = hint;
    if (hint === 'deleted') {
      // Deleted by someone, or expired with its etcd lease? The lease tells.
      try {
        if (await this.registry.leaseTtl(previous.leaseId) <= 0) reason = 'expired';
      } catch { /* keep 'deleted' */ }
    }
    if (this.closed) return;
    this.emit({ type: 'lost', lease: previous, reason, takenBy });
    const oldWatch = this.watch;
    this.watch = null;
    void oldWatch?.close();

    let failures = 0;
    while (!this.closed) {
      try {
        const lease = await this.registry.acquireLease({
          publicIp: previous.publicIp,
          vtepMac: previous.vtepMac,
          vni: previous.vni,
          ttlSeconds: previous.ttlSeconds > 0 ? previous.ttlSeconds : undefined,
          previousSubnet: previous.subnet,
          // A dual-stack lease is taken again as one, its IPv6 subnet first.
          ...(previous.publicIpv6 !== undefined ? { publicIpv6: previous.publicIpv6 } : {}),
          ...(previous.vtepMac6 !== undefined ? { vtepMac6: previous.vtepMac6 } : {}),
          ...(previous.subnet6 !== undefined ? { previousSubnet6: previous.subnet6 } : {}),
          ...(this.opts.config ? { config: this.opts.config } : {}),
        });
        if (this.closed) return;
        if (lease.leaseId !== previous.leaseId) void this.registry.revokeIfUnused(previous.leaseId);
        this.current = lease;
        this.reacquiring = false;
        this.startWatch();
        this.scheduleRenew(renewDelayMs(lease.ttlSeconds, this.opts.renewMarginSeconds ?? DEFAULT_RENEW_MARGIN_SECONDS));
        this.emit({ type: 'reacquired', lease, previous, sameSubnet: sameSubnet(lease.subnet, previous.subnet) });
        return;
      } catch (err) {
        if (this.closed) return;
        if (failures++ === 0) this.emit({ type: 'reacquire-failed', error: err as Error });
        await this.sleep(backoffDelay(failures, this.opts.retry));
      }
    }
  }

  /** A wait that close() ends early. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.pause = null; resolve(); }, ms);
      this.pause = { timer, resolve };
    });
  }

  private emit(e: LeaseKeeperEvent): void {
    this.opts.onEvent?.(e);
  }
}

/** When to renew a lease of `ttl` seconds: `margin` before expiry, but no later than 2/3 into the TTL. */
export function renewDelayMs(ttlSeconds: number, marginSeconds: number): number {
  const ttl = Math.max(1, ttlSeconds);
  return Math.max(ttl - marginSeconds, ttl / 3) * 1000;
}

/** The PublicIP a key's value names, or null when it is not a lease. */
function publicIpOf(kv: Kv): string | null {
  try {
    return decodeLease(kv.key, kv.value).publicIp;
  } catch {
    return null;
  }
}

function sameSubnet(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  return x.addr === y.addr && x.len === y.len;
}
