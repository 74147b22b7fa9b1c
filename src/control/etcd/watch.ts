/**
 * A watch on a key or a prefix that survives compaction and outages: the
 * caller gets either the changes after the revision it holds, or, when etcd
 * cannot give those (history compacted, connection lost), the whole range
 * again as a `reset` to diff against its state (flannel's
 * LeaseWatcher.Reset). Status transitions are reported once each.
 *
 * Why a wrapper: what the etcd3 package's watcher (1.1.2) really does, as
 * the tests in test/control/etcd/etcd3-watcher.test.ts pin down:
 * - Compaction: a watch from a compacted revision is first `connected`,
 *   then emits `error` ("Watcher canceled: ", the compact revision is not
 *   passed on) and is dropped for good: no reconnect. Its lastRevision() has
 *   meanwhile jumped to the current revision + 1 (it is set from the header
 *   of the `created` response), so a naive restart from lastRevision() would
 *   skip the compacted changes silently.
 * - Connection lost: every watcher gets `disconnected` twice (the gRPC error,
 *   then "stream ended"), and again on every failed reconnect attempt (etcd3
 *   retries on its own with a backoff); after etcd is back it re-creates the
 *   watch from lastRevision() and replays. That revision is advanced on
 *   `connected`, before the replayed events arrive, so a second drop during
 *   the replay would lose them.
 * - A frozen etcd (SIGSTOP, hung host): nothing at all, unless gRPC
 *   keepalives are on (client.ts turns them on).
 * - Closing the client with a watcher still attached makes etcd3 retry
 *   forever ("client was already closed"), keeping the process alive.
 * So: on the first `disconnected` this wrapper cancels etcd3's watcher (no
 * replay is trusted), reports `unreachable` once, and retries itself with a
 * backoff by re-listing the range; on `error` it re-lists at once (reporting
 * whether the history was compacted). A successful re-list is delivered as a
 * `reset`, reported as `resynced`, and a new watcher starts at the list's
 * revision + 1, so no change is lost or seen twice. close() cancels the
 * watcher: close watches before the client.
 */
import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from 'etcd3';
import type { EtcdOrigin } from '../origin';

export interface Kv {
  readonly key: string;
  readonly value: string;
  /** The etcd lease ID (int64 as a decimal string); '0' for none. */
  readonly lease: string;
  readonly modRevision: number;
  readonly createRevision: number;
}

/** The provenance of a record derived from this key (control/origin.ts). */
export function originOf(kv: Kv): EtcdOrigin {
  return { kind: 'etcd', key: kv.key, modRevision: kv.modRevision, createRevision: kv.createRevision, lease: kv.lease };
}

export type KvChange =
  | { readonly type: 'put'; readonly kv: Kv }
  | { readonly type: 'delete'; readonly key: string; readonly revision: number };

export type ResyncReason = 'reconnected' | 'compacted' | 'canceled';

export type WatchUpdate =
  /** One watch response: changes in order; `revision` is the last one seen. */
  | { readonly kind: 'changes'; readonly changes: readonly KvChange[]; readonly revision: number }
  /** The whole range as of `revision`: replace your state with it (diff to find the changes). */
  | { readonly kind: 'reset'; readonly kvs: readonly Kv[]; readonly revision: number; readonly reason: ResyncReason };

export type WatchStatus =
  /** The first watch is in place (once). */
  | { readonly state: 'connected' }
  /** etcd stopped answering; nothing is delivered until `resynced`. */
  | { readonly state: 'unreachable'; readonly error: Error }
  /** A re-list was delivered as a reset (after `unreachable`, or after etcd canceled the watch). */
  | { readonly state: 'resynced'; readonly reason: ResyncReason; readonly detail?: string };

export type KeyRange = { readonly prefix: string } | { readonly key: string };

export interface BackoffOptions {
  /** First retry delay after a failed re-list, ms. Default 250. */
  initialMs?: number;
  /** Longest retry delay, ms. Default 5000. */
  maxMs?: number;
}

export interface ResilientWatchOptions {
  readonly range: KeyRange;
  /** The revision of the state the caller holds (from listRange): changes after it are delivered. */
  readonly revision: number;
  readonly onUpdate: (u: WatchUpdate) => void;
  readonly onStatus?: (s: WatchStatus) => void;
  readonly backoff?: BackoffOptions;
}

/** Every key in the range, and the store revision they are as of. */
export async function listRange(client: Etcd3, range: KeyRange): Promise<{ kvs: Kv[]; revision: number }> {
  const res = await client.kv.range(rangeRequest(range));
  return { kvs: res.kvs.map(toKv), revision: Number(res.header.revision) };
}

export class ResilientWatch {
  private watcher: Watcher | null = null;
  /** Bumped whenever a watcher is dropped: callbacks of older watchers are ignored. */
  private gen = 0;
  private rev: number;
  private attempt = 0;
  private timer: NodeJS.Timeout | null = null;
  private stableTimer: NodeJS.Timeout | null = null;
  private inFlight = false;
  private pending: ResyncReason | null = null;
  private pendingDetail: string | undefined;
  private everConnected = false;
  private unreachable = false;
  private closed = false;
  private started = false;

  constructor(private readonly client: Etcd3, private readonly opts: ResilientWatchOptions) {
    this.rev = opts.revision;
  }

  /** The revision the caller's state is as of. */
  get revision(): number {
    return this.rev;
  }

  get state(): 'connecting' | 'connected' | 'unreachable' | 'closed' {
    if (this.closed) return 'closed';
    if (this.unreachable) return 'unreachable';
    return this.everConnected && this.watcher ? 'connected' : 'connecting';
  }

  start(): void {
    if (this.closed) throw new Error('ResilientWatch.start: closed');
    if (this.started) throw new Error('ResilientWatch.start: already started');
    this.started = true;
    this.attach();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clearTimers();
    await this.drop(true);
  }

  // ---- the watcher ---------------------------------------------------------

  private attach(): void {
    const gen = ++this.gen;
    const builder = this.client.watch();
    if ('prefix' in this.opts.range) builder.prefix(this.opts.range.prefix);
    else builder.key(this.opts.range.key);
    const w = builder.startRevision(String(this.rev + 1)).watcher();
    this.watcher = w;
    // An 'error' listener is always there: an EventEmitter without one throws.
    w.on('error', (err) => { if (gen === this.gen) this.onCanceled(err); });
    w.on('disconnected', (err) => { if (gen === this.gen) this.onLost(err); });
    w.on('connected', () => { if (gen === this.gen) this.onConnected(); });
    w.on('data', (res) => { if (gen === this.gen) this.onData(res); });
  }

  /**
   * Forgets the current watcher. `cancel`: ask etcd3 to detach it (not after
   * it emitted 'error': etcd3 has dropped it then, and a cancel would wait
   * for an answer that never comes). Bounded: a cancel on a dead stream can
   * wait for etcd3's reconnect.
   */
  private async drop(cancel: boolean): Promise<void> {
    const w = this.watcher;
    this.watcher = null;
    this.gen++;
    if (this.stableTimer) { clearTimeout(this.stableTimer); this.stableTimer = null; }
    if (!w || !cancel) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      w.cancel().catch(() => undefined),
      new Promise<void>((resolve) => { t = setTimeout(resolve, 2000); }),
    ]);
    if (t) clearTimeout(t);
  }

  private onConnected(): void {
    if (!this.everConnected) {
      this.everConnected = true;
      this.opts.onStatus?.({ state: 'connected' });
    }
    // A watch that stays up for 2 s resets the retry backoff.
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => { this.stableTimer = null; this.attempt = 0; }, 2000);
  }

  private onData(res: IWatchResponse): void {
    const changes: KvChange[] = [];
    let last = this.rev;
    for (const ev of res.events) {
      const r = Number(ev.kv.mod_revision);
      if (r > last) last = r;
      if (ev.type === 'Put') changes.push({ type: 'put', kv: toKv(ev.kv) });
      else changes.push({ type: 'delete', key: ev.kv.key.toString('utf8'), revision: r });
    }
    // An empty response is a progress notification: everything up to its header revision has been sent.
    if (res.events.length === 0) last = Math.max(last, Number(res.header.revision));
    this.rev = last;
    if (changes.length > 0) this.opts.onUpdate({ kind: 'changes', changes, revision: last });
  }

  private onLost(err: Error): void {
    void this.drop(true);
    if (!this.unreachable) {
      this.unreachable = true;
      this.opts.onStatus?.({ state: 'unreachable', error: err });
    }
    this.requestResync('reconnected');
  }

  private onCanceled(err: Error): void {
    void this.drop(false);
    this.requestResync('canceled', err.message);
  }

  // ---- resync --------------------------------------------------------------

  private requestResync(reason: ResyncReason, detail?: string): void {
    if (this.closed) return;
    if (this.pending === null) { this.pending = reason; this.pendingDetail = detail; }
    if (this.inFlight || this.timer) return;
    const delay = this.attempt === 0 ? 0 : backoffDelay(this.attempt, this.opts.backoff);
    this.attempt++;
    this.timer = setTimeout(() => { this.timer = null; void this.resync(); }, delay);
  }

  private async resync(): Promise<void> {
    if (this.closed || this.pending === null) return;
    this.inFlight = true;
    let reason = this.pending;
    let detail = this.pendingDetail;
    this.pending = null;
    this.pendingDetail = undefined;
    let listed: { kvs: Kv[]; revision: number };
    try {
      if (reason === 'canceled' && await this.compactedSince()) {
        reason = 'compacted';
        detail = `history before revision ${this.rev + 1} was compacted`;
      }
      listed = await listRange(this.client, this.opts.range);
    } catch (err) {
      this.inFlight = false;
      if (this.closed) return;
      if (!this.unreachable) {
        this.unreachable = true;
        this.opts.onStatus?.({ state: 'unreachable', error: err as Error });
      }
      this.requestResync(reason === 'canceled' || reason === 'compacted' ? reason : 'reconnected', detail);
      return;
    }
    if (this.watcher) await this.drop(true);
    this.inFlight = false;
    if (this.closed) return;
    this.rev = listed.revision;
    this.unreachable = false;
    this.opts.onUpdate({ kind: 'reset', kvs: listed.kvs, revision: listed.revision, reason });
    this.opts.onStatus?.({ state: 'resynced', reason, ...(detail !== undefined ? { detail } : {}) });
    if (this.closed) return;
    this.attach();
    if (this.pending !== null) this.requestResync(this.pending, this.pendingDetail);
  }

  /** Whether etcd has compacted the history the watch needed (a read at that revision fails so). */
  private async compactedSince(): Promise<boolean> {
    try {
      await this.client.kv.range({ ...rangeRequest(this.opts.range), revision: this.rev + 1, count_only: true });
      return false;
    } catch (err) {
      const msg = (err as Error).message;
      if (/compacted/i.test(msg)) return true;
      if (/future revision/i.test(msg)) return false;
      throw err;
    }
  }

  private clearTimers(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.stableTimer) { clearTimeout(this.stableTimer); this.stableTimer = null; }
  }
}

/** attempt 1 -> initial, doubling up to max, with +-20 % jitter. */
export function backoffDelay(attempt: number, o: BackoffOptions = {}): number {
  const initial = o.initialMs ?? 250;
  const max = o.maxMs ?? 5000;
  const base = Math.min(max, initial * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

export function toKv(kv: IKeyValue): Kv {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value.toString('utf8'),
    lease: String(kv.lease),
    modRevision: Number(kv.mod_revision),
    createRevision: Number(kv.create_revision),
  };
}

function rangeRequest(range: KeyRange): { key: Buffer; range_end?: Buffer } {
  if ('key' in range) return { key: Buffer.from(range.key) };
  return { key: Buffer.from(range.prefix), range_end: prefixEnd(Buffer.from(range.prefix)) };
}

/** The first key after every key with this prefix (etcd's range_end for a prefix). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // all 0xff: to the end of the keyspace
}
