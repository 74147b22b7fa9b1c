/**
 * Keeps this host's key of an L2 segment, `<prefix>/l2/<vni>/vteps/<public-ip>`
 * (the layout: vteps.ts): grant a lease of the TTL, put the key on it, keep the
 * lease alive every third of the TTL. When the key is found gone (its lease
 * expired while etcd was away from this host, the lease was revoked, an
 * operator deleted it) or overwritten, it is put back on a fresh lease. While
 * etcd is away the keep-alive retries with a short backoff (≤2 s), so the key
 * is back within a few seconds of etcd's return. close() deletes the key and
 * revokes its lease: the other hosts drop this one at once.
 */
import type { Etcd3 } from 'etcd3';
import { EtcdUnavailableError } from './errors';
import { etcdCall, keepAliveOnce } from './registry';
import { DEFAULT_VTEP_TTL_SECONDS } from './vteps';
import { backoffDelay, ResilientWatch, type BackoffOptions, type Kv, type WatchUpdate } from './watch';

export type RegistrationEvent =
  | { readonly type: 'registered'; readonly leaseId: string; readonly expiresAt: number; readonly again: boolean }
  | { readonly type: 'renewed'; readonly expiresAt: number }
  /** The first failure of a streak (renewal or registration); retried with a backoff. */
  | { readonly type: 'failed'; readonly error: Error }
  /**
   * The key was found gone or changed; it is put back. 'expired': a
   * keep-alive found the lease gone (run out, or revoked); 'gone': the watch
   * saw the key missing (deleted, or its lease ran out: the watch cannot
   * tell); 'replaced': another value is on the key.
   */
  | { readonly type: 'lost'; readonly reason: 'expired' | 'gone' | 'replaced' };

export interface VtepRegistrationOptions {
  readonly key: string;
  readonly value: string;
  /** Default DEFAULT_VTEP_TTL_SECONDS. */
  readonly ttlSeconds?: number;
  readonly onEvent?: (e: RegistrationEvent) => void;
  /** Backoff of retries while etcd is away. Default 250 ms doubling to 2 s. */
  readonly retry?: BackoffOptions;
  /** Deadline of one keep-alive, ms. Default 3000. */
  readonly renewTimeoutMs?: number;
}

export class VtepRegistration {
  private leaseId: string | null = null;
  private expiresAt = 0;
  /** The revision of this host's last put: watch news older than it is already dealt with. */
  private putRevision = 0;
  private timer: NodeJS.Timeout | null = null;
  private watch: ResilientWatch | null = null;
  private failures = 0;
  private busy = false;
  /** Put the key again at the next step (it was found gone or changed). */
  private needPut = false;
  /** A step was asked for while one ran. */
  private rerun = false;
  private registeredOnce = false;
  private closed = false;
  private readonly ttl: number;
  private readonly retry: BackoffOptions;

  constructor(private readonly client: Etcd3, private readonly opts: VtepRegistrationOptions) {
    this.ttl = opts.ttlSeconds ?? DEFAULT_VTEP_TTL_SECONDS;
    this.retry = opts.retry ?? { initialMs: 250, maxMs: 2000 };
    if (!Number.isInteger(this.ttl) || this.ttl < 1) throw new TypeError(`VtepRegistration: ttlSeconds must be a positive integer, got ${this.ttl}`);
  }

  /** Whether the key is believed to be in etcd now, and until when without a renewal. */
  get state(): { held: boolean; leaseId: string | null; expiresAt: number } {
    return { held: this.leaseId !== null && Date.now() < this.expiresAt, leaseId: this.leaseId, expiresAt: this.expiresAt };
  }

  /** Puts the key now (EtcdUnavailableError when etcd does not answer), then keeps it. */
  async start(): Promise<void> {
    const revision = await this.register();
    if (this.closed) return;
    this.watch = new ResilientWatch(this.client, {
      range: { key: this.opts.key },
      revision,
      onUpdate: (u) => this.onUpdate(u),
      backoff: this.retry,
    });
    this.watch.start();
    this.schedule(this.renewDelay());
  }

  /** Stops keeping the key and deletes it (if still ours) and its lease: the others drop this host at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    await this.watch?.close();
    this.watch = null;
    const id = this.leaseId;
    this.leaseId = null;
    if (id === null) return;
    try {
      await this.client.if(this.opts.key, 'Lease', '==', id).then(this.client.delete().key(this.opts.key)).commit();
    } catch { /* etcd away: the lease runs out within the TTL */ }
    try { await this.client.leaseClient.leaseRevoke({ ID: id }); } catch { /* it will expire */ }
  }

  /** Grants a lease and puts the key on it; the old lease (if any) is revoked. Returns the put's revision. */
  private async register(): Promise<number> {
    const grant = await etcdCall('grant an etcd lease', () => this.client.leaseClient.leaseGrant({ TTL: this.ttl, ID: 0 }));
    if (grant.error) throw new EtcdUnavailableError(`etcd refused a lease of ${this.ttl} s: ${grant.error}`);
    let res;
    try {
      res = await etcdCall(`put ${this.opts.key}`, () => this.client.put(this.opts.key).value(this.opts.value).lease(grant.ID).exec());
    } catch (err) {
      void this.client.leaseClient.leaseRevoke({ ID: grant.ID }).catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await this.client.leaseClient.leaseRevoke({ ID: grant.ID }).catch(() => undefined);
      return Number(res.header.revision);
    }
    const old = this.leaseId;
    const again = this.registeredOnce;
    this.putRevision = Math.max(this.putRevision, Number(res.header.revision));
    this.registeredOnce = true;
    this.leaseId = grant.ID;
    this.expiresAt = Date.now() + Number(grant.TTL) * 1000;
    if (old !== null && old !== grant.ID) void this.client.leaseClient.leaseRevoke({ ID: old }).catch(() => undefined);
    this.opts.onEvent?.({ type: 'registered', leaseId: grant.ID, expiresAt: this.expiresAt, again });
    return Number(res.header.revision);
  }

  private renewDelay(): number {
    return (this.ttl * 1000) / 3;
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = null; void this.tick(); }, ms);
  }

  /**
   * One step of keeping the key: a new registration when the key was found
   * gone or changed (`needPut`), else a keep-alive, which registers anew
   * when the lease turns out to be gone. One step at a time: news that
   * arrives during a step is handled by the next one, right after.
   */
  private async tick(): Promise<void> {
    if (this.closed) return;
    if (this.busy) { this.rerun = true; return; }
    this.busy = true;
    const putting = this.needPut || this.leaseId === null;
    try {
      const id = this.leaseId;
      if (putting || id === null) {
        this.needPut = false;
        await this.register();
      } else {
        const ttl = await etcdCall(`renew lease ${id}`, () => keepAliveOnce(this.client, id, this.opts.renewTimeoutMs ?? 3000));
        if (this.closed) return;
        if (ttl > 0) {
          this.expiresAt = Date.now() + ttl * 1000;
          this.opts.onEvent?.({ type: 'renewed', expiresAt: this.expiresAt });
        } else {
          // Expired while etcd was away from us (or revoked): the key went with it.
          this.opts.onEvent?.({ type: 'lost', reason: 'expired' });
          await this.register();
        }
      }
      this.failures = 0;
      this.schedule(this.renewDelay());
    } catch (err) {
      if (this.closed) return;
      if (putting) this.needPut = true; // a failed put is tried again, not replaced by a keep-alive
      if (this.failures++ === 0) this.opts.onEvent?.({ type: 'failed', error: err as Error });
      this.schedule(backoffDelay(this.failures, this.retry));
    } finally {
      this.busy = false;
    }
    if (this.rerun && !this.closed) {
      this.rerun = false;
      this.schedule(0);
    }
  }

  /** The own key's watch: gone or changed means put it back now, not at the next renewal. */
  private onUpdate(u: WatchUpdate): void {
    if (this.closed) return;
    let kv: Kv | null | undefined;
    if (u.kind === 'reset') {
      kv = u.kvs.find((k) => k.key === this.opts.key) ?? null;
    } else {
      for (const c of u.changes) {
        // A change at or before our last put (the expiry that a renewal found first) is old news.
        if ((c.type === 'put' ? c.kv.modRevision : c.revision) <= this.putRevision) continue;
        kv = c.type === 'put' ? c.kv : null;
      }
    }
    if (kv === undefined) return;
    // Our own value on a lease: this host's (a registration seen before its answer counts too).
    if (kv !== null && kv.value === this.opts.value && kv.lease !== '0') return;
    this.opts.onEvent?.({ type: 'lost', reason: kv === null ? 'gone' : 'replaced' });
    this.needPut = true;
    this.schedule(0);
  }
}
