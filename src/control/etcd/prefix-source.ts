/**
 * What a control-plane source over one etcd prefix does whatever its keys
 * hold (flannel's leases: peer-source.ts; L2 VTEPs: vtep-source.ts):
 *
 * - snapshot(): lists the prefix once and remembers the revision;
 * - watch(): changes after that revision, one batch per watch response; a
 *   put re-derives its key's item, a delete or an expiry (etcd deletes the
 *   key with its lease) removes the copy kept here (v3 deletes carry no value);
 * - after a compaction or an outage the prefix is listed again and only the
 *   difference with what the consumer has is emitted (flannel's
 *   LeaseWatcher.Reset): consumers only ever see deltas, and while etcd is
 *   away nothing is emitted and the last known items stay in force.
 *
 * A subclass says how a key becomes an item (derive: null for "not one":
 * this host's own key, a malformed value, ...), reporting a refusal once per
 * version of the key (reportOnce), and how two item lists differ (diff).
 */
import type { Etcd3 } from 'etcd3';
import { EtcdUnavailableError } from './errors';
import { listRange, ResilientWatch, type BackoffOptions, type Kv, type WatchStatus, type WatchUpdate } from './watch';

export type PrefixSourceStatus = WatchStatus & {
  /** For `resynced`: what the resync changed. */
  readonly added?: number;
  readonly removed?: number;
};

export interface PrefixSourceOptions {
  readonly onStatus?: (s: PrefixSourceStatus) => void;
  readonly backoff?: BackoffOptions;
}

export abstract class EtcdPrefixSource<T, E extends { readonly type: 'added' | 'removed' }> {
  /** Every key under the prefix, as last seen. */
  private readonly raw = new Map<string, Kv>();
  /** The items the consumer has, by key. */
  private readonly current = new Map<string, T>();
  /** key -> modRevision already reported. */
  private readonly reported = new Map<string, number>();
  private rev = -1;
  private watcher: ResilientWatch | null = null;
  private onEvents: ((batch: E[]) => void) | null = null;
  private lastReset = { added: 0, removed: 0 };
  private closed = false;

  protected constructor(private readonly client: Etcd3, private readonly name: string, private readonly range: string,
    private readonly base: PrefixSourceOptions) {}

  /** The key's item, or null when it is not one (reportOnce() says why, once per version). */
  protected abstract derive(kv: Kv): T | null;
  protected abstract diff(before: readonly T[], after: readonly T[]): E[];

  /** The revision the items are as of (-1 before snapshot()). */
  get revision(): number {
    return this.rev;
  }

  /** The items the consumer has been given so far. */
  items(): T[] {
    return [...this.current.values()];
  }

  /** Lists the prefix. Throws EtcdUnavailableError when etcd does not answer. */
  async snapshot(): Promise<T[]> {
    if (this.closed) throw new Error(`${this.name}.snapshot: the source is closed`);
    if (this.watcher) throw new Error(`${this.name}.snapshot: already watching (the snapshot is taken once, before watch())`);
    let listed: { kvs: Kv[]; revision: number };
    try {
      listed = await listRange(this.client, { prefix: this.range });
    } catch (err) {
      throw new EtcdUnavailableError(`cannot list ${this.range} in etcd: ${(err as Error).message}`, { cause: err });
    }
    this.applyReset(listed.kvs);
    this.rev = listed.revision;
    return this.items();
  }

  /** Starts watching after the snapshot's revision; onEvents gets each non-empty batch. */
  watch(onEvents: (batch: E[]) => void): void {
    if (this.closed) throw new Error(`${this.name}.watch: the source is closed`);
    if (this.watcher) throw new Error(`${this.name}.watch: already watching`);
    if (this.rev < 0) throw new Error(`${this.name}.watch: call snapshot() first`);
    this.onEvents = onEvents;
    this.watcher = new ResilientWatch(this.client, {
      range: { prefix: this.range },
      revision: this.rev,
      onUpdate: (u) => this.onUpdate(u),
      onStatus: (s) => { if (!this.closed) this.base.onStatus?.(s.state === 'resynced' ? { ...s, ...this.lastReset } : s); },
      ...(this.base.backoff ? { backoff: this.base.backoff } : {}),
    });
    this.watcher.start();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onEvents = null;
    await this.watcher?.close();
  }

  /** Re-derives every key (what derive() depends on changed); emits and returns the difference. */
  protected recomputeAll(): E[] {
    const batch = this.recompute(new Set(this.raw.keys()));
    this.emit(batch);
    return batch;
  }

  /** True the first time this version of the key is refused: report it then, not on every re-derive. */
  protected reportOnce(kv: Kv): boolean {
    if (this.reported.get(kv.key) === kv.modRevision) return false;
    this.reported.set(kv.key, kv.modRevision);
    return true;
  }

  private onUpdate(u: WatchUpdate): void {
    if (this.closed) return;
    this.rev = u.revision;
    if (u.kind === 'reset') {
      const batch = this.applyReset(u.kvs);
      let added = 0;
      for (const e of batch) if (e.type === 'added') added++;
      this.lastReset = { added, removed: batch.length - added };
      this.emit(batch);
      return;
    }
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
    this.emit(this.recompute(touched));
  }

  /** Replaces the raw state with a listing; returns the batch that brings the consumer there. */
  private applyReset(kvs: readonly Kv[]): E[] {
    const touched = new Set<string>(this.raw.keys());
    this.raw.clear();
    for (const kv of kvs) {
      this.raw.set(kv.key, kv);
      touched.add(kv.key);
    }
    for (const k of [...this.reported.keys()]) if (!this.raw.has(k)) this.reported.delete(k);
    return this.recompute(touched);
  }

  /** Re-derives the items of the touched keys; returns the batch. */
  private recompute(touched: ReadonlySet<string>): E[] {
    const before: T[] = [];
    const after: T[] = [];
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
    return this.diff(before, after);
  }

  private emit(batch: E[]): void {
    if (batch.length > 0 && this.onEvents) this.onEvents(batch);
  }
}
