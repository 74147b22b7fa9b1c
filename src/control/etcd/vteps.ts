/**
 * The VTEPs of an L2 segment in etcd (`--mode l2`, issue #10):
 *
 *   <prefix>/l2/<vni>/vteps/<public-ip>   {"PublicIP":"192.168.90.2","Port":4789,"VtepMAC":"02:…"}
 *
 * one key per host, on an etcd lease with a short TTL (DEFAULT_VTEP_TTL_SECONDS)
 * that the host keeps alive. A clean stop deletes the key at once; a host
 * that dies leaves when its lease runs out. Every host watches the prefix and
 * floods to the others.
 *
 * - VtepRegistration keeps this host's key: grant, put, keep-alive every
 *   third of the TTL; when the key is gone (lease expired during an outage,
 *   operator's delete, another value written over it) it is put back; while
 *   etcd is away it retries with a short backoff, so the key is back within
 *   a second or two of etcd's return.
 * - EtcdVtepSource: snapshot + batches (diffVteps), re-listed after an
 *   outage or a compaction (watch.ts), so consumers only ever see deltas and
 *   the last known list stays while etcd is away. Not VTEPs, never emitted:
 *   this host's own key, and malformed values (bad JSON, key/PublicIP
 *   mismatch, bad IP, port or MAC), reported once per version of the key.
 *
 * Why the values look like flannel's (PublicIP, VtepMAC): an operator who
 * knows `etcdctl get --prefix /coreos.com/network/subnets` reads these too.
 */
import type { Etcd3 } from 'etcd3';
import { diffVteps, type Vtep, type VtepEvent, type VtepSource } from '../l2-network';
import { unicastIpProblem, unicastMacProblem } from '../static-l2';
import { EtcdUnavailableError, VtepFormatError } from './errors';
import { etcdCall, keepAliveOnce } from './registry';
import { backoffDelay, listRange, ResilientWatch, type BackoffOptions, type Kv, type WatchStatus, type WatchUpdate } from './watch';

/**
 * The registration's TTL: 10 s, renewed every ~3.3 s. A host that dies
 * leaves the flood lists 10 s later (etcd checks expiries every 500 ms); one
 * that stops cleanly leaves at once. Why not shorter: a host whose link to
 * etcd drops for longer than the TTL is dropped from the others' flood lists
 * (and its learned MACs with it) although the data path to it may be fine;
 * 10 s rides out an etcd leader election or a restart. etcd accepts TTLs
 * down to ~2 s (its minimum is 1.5 election timeouts), so a TTL of 4 s
 * gives "a dead host leaves within 5 s" for those who prefer it.
 */
export const DEFAULT_VTEP_TTL_SECONDS = 10;

/** `<prefix>/l2/<vni>/vteps/` */
export function vtepsPrefix(prefix: string, vni: number): string {
  return `${prefix.replace(/\/+$/, '')}/l2/${vni}/vteps/`;
}

export interface VtepRecord {
  readonly publicIp: string;
  readonly port: number;
  readonly vtepMac: string | null;
  readonly macs?: readonly string[];
}

/** The value of a host's key. */
export function encodeVtep(v: VtepRecord): string {
  const doc: Record<string, unknown> = { PublicIP: v.publicIp, Port: v.port, VtepMAC: v.vtepMac };
  if (v.macs && v.macs.length > 0) doc.MACs = v.macs;
  return JSON.stringify(doc);
}

/**
 * A key's value as a Vtep. Throws VtepFormatError: not a JSON object, the key
 * does not end in the value's PublicIP, PublicIP not a unicast IPv4, Port not
 * in 1..65535, VtepMAC (optional, may be null) or an entry of MACs (optional)
 * not a unicast MAC. Unknown fields are ignored, as flannel ignores them.
 */
export function decodeVtep(key: string, value: string): Vtep {
  const fail = (msg: string): never => { throw new VtepFormatError(key, msg); };
  let doc: unknown;
  try {
    doc = JSON.parse(value);
  } catch (err) {
    return fail(`not JSON: ${(err as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return fail('not a JSON object');
  const o = doc as Record<string, unknown>;
  const ip = o.PublicIP;
  if (typeof ip !== 'string') return fail(`PublicIP: missing or not a string: ${JSON.stringify(ip)}`);
  const ipProblem = unicastIpProblem(ip);
  if (ipProblem) fail(`PublicIP: ${JSON.stringify(ip)} is ${ipProblem}`);
  const last = key.slice(key.lastIndexOf('/') + 1);
  if (last !== ip) fail(`PublicIP ${ip} does not match the key (a host registers under its own address)`);
  const port = o.Port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) fail(`Port: not in 1..65535: ${JSON.stringify(port)}`);
  let vtepMac: string | null = null;
  if (o.VtepMAC !== undefined && o.VtepMAC !== null) {
    if (typeof o.VtepMAC !== 'string') return fail(`VtepMAC: not a MAC address: ${JSON.stringify(o.VtepMAC)}`);
    const why = unicastMacProblem(o.VtepMAC);
    if (why) fail(`VtepMAC: ${JSON.stringify(o.VtepMAC)} is ${why}`);
    vtepMac = o.VtepMAC.toLowerCase();
  }
  const macs: string[] = [];
  if (o.MACs !== undefined && o.MACs !== null) {
    if (!Array.isArray(o.MACs)) return fail(`MACs: not an array: ${JSON.stringify(o.MACs)}`);
    for (const m of o.MACs as unknown[]) {
      const why = typeof m === 'string' ? unicastMacProblem(m) : 'not a string';
      if (why) fail(`MACs: ${JSON.stringify(m)} is ${why}`);
      const mac = (m as string).toLowerCase();
      if (!macs.includes(mac)) macs.push(mac);
    }
  }
  return { publicIp: ip, port: port as number, vtepMac, macs };
}

// ---- this host's key -------------------------------------------------------------

export type RegistrationEvent =
  | { readonly type: 'registered'; readonly leaseId: string; readonly expiresAt: number; readonly again: boolean }
  | { readonly type: 'renewed'; readonly expiresAt: number }
  /** The first failure of a streak (renewal or registration); retried with a backoff. */
  | { readonly type: 'failed'; readonly error: Error }
  /** The key was found gone or changed; it is put back. */
  | { readonly type: 'lost'; readonly reason: 'expired' | 'deleted' | 'replaced' };

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
    this.opts.onEvent?.({ type: 'lost', reason: kv === null ? 'deleted' : 'replaced' });
    this.needPut = true;
    this.schedule(0);
  }
}

// ---- the other hosts ---------------------------------------------------------------

export interface IgnoredVtep {
  readonly key: string;
  readonly detail: string;
}

export type VtepSourceStatus = WatchStatus & { readonly added?: number; readonly removed?: number };

export interface EtcdVtepSourceOptions {
  /** `vtepsPrefix(prefix, vni)`. */
  readonly prefix: string;
  /** This host's public IP: its key is not a VTEP of the flood list. */
  readonly selfIp: string;
  readonly onStatus?: (s: VtepSourceStatus) => void;
  /** A malformed value, once per version of the key. */
  readonly onIgnored?: (i: IgnoredVtep) => void;
  readonly backoff?: BackoffOptions;
}

export class EtcdVtepSource implements VtepSource {
  /** Every key under the prefix, as last seen. */
  private readonly raw = new Map<string, Kv>();
  /** The VTEPs the consumer has, by key. */
  private readonly current = new Map<string, Vtep>();
  /** key -> modRevision already reported. */
  private readonly reported = new Map<string, number>();
  private rev = -1;
  private watcher: ResilientWatch | null = null;
  private onEvents: ((batch: VtepEvent[]) => void) | null = null;
  private lastReset = { added: 0, removed: 0 };
  private closed = false;
  /** How many malformed values were ignored (each version of a key once). */
  ignored = 0;

  constructor(private readonly client: Etcd3, private readonly opts: EtcdVtepSourceOptions) {}

  /** The VTEPs the consumer has been given so far. */
  vteps(): Vtep[] {
    return [...this.current.values()];
  }

  /** Lists the prefix. Throws EtcdUnavailableError when etcd does not answer. */
  async snapshot(): Promise<Vtep[]> {
    if (this.closed) throw new Error('EtcdVtepSource.snapshot: the source is closed');
    if (this.watcher) throw new Error('EtcdVtepSource.snapshot: already watching');
    let listed: { kvs: Kv[]; revision: number };
    try {
      listed = await listRange(this.client, { prefix: this.opts.prefix });
    } catch (err) {
      throw new EtcdUnavailableError(`cannot list ${this.opts.prefix} in etcd: ${(err as Error).message}`, { cause: err });
    }
    this.applyReset(listed.kvs);
    this.rev = listed.revision;
    return this.vteps();
  }

  watch(onEvents: (batch: VtepEvent[]) => void): void {
    if (this.closed) throw new Error('EtcdVtepSource.watch: the source is closed');
    if (this.watcher) throw new Error('EtcdVtepSource.watch: already watching');
    if (this.rev < 0) throw new Error('EtcdVtepSource.watch: call snapshot() first');
    this.onEvents = onEvents;
    this.watcher = new ResilientWatch(this.client, {
      range: { prefix: this.opts.prefix },
      revision: this.rev,
      onUpdate: (u) => this.onUpdate(u),
      onStatus: (s) => { if (!this.closed) this.opts.onStatus?.(s.state === 'resynced' ? { ...s, ...this.lastReset } : s); },
      ...(this.opts.backoff ? { backoff: this.opts.backoff } : {}),
    });
    this.watcher.start();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onEvents = null;
    await this.watcher?.close();
  }

  private onUpdate(u: WatchUpdate): void {
    if (this.closed) return;
    this.rev = u.revision;
    let batch: VtepEvent[];
    if (u.kind === 'reset') {
      batch = this.applyReset(u.kvs);
      let added = 0;
      for (const e of batch) if (e.type === 'added') added++;
      this.lastReset = { added, removed: batch.length - added };
    } else {
      const touched = new Set<string>();
      for (const c of u.changes) {
        if (c.type === 'put') {
          this.raw.set(c.kv.key, c.kv);
          touched.add(c.kv.key);
        } else {
          this.raw.delete(c.key);
          this.reported.delete(c.key);
          touched.add(c.key);
        }
      }
      batch = this.recompute(touched);
    }
    if (batch.length > 0 && this.onEvents) this.onEvents(batch);
  }

  private applyReset(kvs: readonly Kv[]): VtepEvent[] {
    const touched = new Set<string>(this.raw.keys());
    this.raw.clear();
    for (const kv of kvs) {
      this.raw.set(kv.key, kv);
      touched.add(kv.key);
    }
    for (const k of [...this.reported.keys()]) if (!this.raw.has(k)) this.reported.delete(k);
    return this.recompute(touched);
  }

  private recompute(touched: ReadonlySet<string>): VtepEvent[] {
    const before: Vtep[] = [];
    const after: Vtep[] = [];
    for (const key of touched) {
      const old = this.current.get(key);
      if (old) before.push(old);
      const kv = this.raw.get(key);
      const now = kv ? this.derive(kv) : null;
      if (now) {
        after.push(now);
        this.current.set(key, now);
      } else {
        this.current.delete(key);
      }
    }
    return diffVteps(before, after);
  }

  private derive(kv: Kv): Vtep | null {
    if (kv.key === this.opts.prefix + this.opts.selfIp) return null;
    try {
      return decodeVtep(kv.key, kv.value);
    } catch (err) {
      if (this.reported.get(kv.key) !== kv.modRevision) {
        this.reported.set(kv.key, kv.modRevision);
        this.ignored++;
        this.opts.onIgnored?.({ key: kv.key, detail: (err as Error).message });
      }
      return null;
    }
  }
}
