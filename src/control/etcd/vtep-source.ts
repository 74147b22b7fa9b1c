/**
 * The other VTEPs of an L2 segment (`<prefix>/l2/<vni>/vteps/`, see vteps.ts)
 * as a VtepSource: snapshot + batches (diffVteps), re-listed after an outage
 * or a compaction (watch.ts), so consumers only ever see deltas and the last
 * known list stays while etcd is away. Not VTEPs, never emitted: this host's
 * own key, and malformed values (decodeVtep's errors), each reported once per
 * version of the key and counted.
 */
import type { Etcd3 } from 'etcd3';
import { diffVteps, type Vtep, type VtepEvent, type VtepSource } from '../l2-network';
import { EtcdUnavailableError } from './errors';
import { decodeVtep } from './vteps';
import { listRange, ResilientWatch, type BackoffOptions, type Kv, type WatchStatus, type WatchUpdate } from './watch';

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
