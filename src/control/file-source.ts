/**
 * A control-plane source over a static file (routed mode's peers file,
 * L2 mode's peers file): the file read and checked at start, then re-read on
 * reload() (SIGHUP) and when fs.watchFile sees it change, each time emitting
 * the difference as one batch. Some fields are fixed for the life of the
 * source (the data plane cannot change them under a running switch): an edit
 * to one is reported through onError and the whole edit is ignored until it
 * is reverted or the daemon restarts; so is an invalid file. Nothing is lost.
 */
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { ConfigError } from '../errors';

export interface FileSourceOptions {
  /** How often fs.watchFile stats the file, ms (default 1000); 0: no polling, reload() only. */
  readonly intervalMs?: number;
  /** Called when a re-read file cannot be used; what is in force stays. */
  readonly onError?: (err: ConfigError) => void;
  /** Whether the poll keeps the process alive (default true: a daemon). */
  readonly persistent?: boolean;
}

/** What differs between one kind of file and another. */
export interface FileSpec<C, T, E> {
  /** The class name, for misuse errors. */
  readonly name: string;
  /** Reads and checks the file; throws ConfigError naming the field. */
  load(path: string): C;
  /** A change to a field fixed for the source's life ("vni changed from 1 to 2"), or null. */
  fixedChange(before: C, after: C): string | null;
  /** The items the source gives (peers, VTEPs) of a configuration. */
  items(c: C): T[];
  /** The events that turn one item list into the other. */
  diff(before: readonly T[], after: readonly T[]): E[];
}

export class FileSource<C, T, E> {
  private current: C;
  private onEvents: ((batch: E[]) => void) | null = null;
  private polling = false;
  private closed = false;
  private readonly listener = (curr: Stats, prev: Stats): void => {
    if (curr.mtimeMs === prev.mtimeMs && curr.size === prev.size && curr.ino === prev.ino) return;
    this.reload();
  };

  /** Loads the file now; throws ConfigError when it is not valid. */
  constructor(readonly path: string, private readonly spec: FileSpec<C, T, E>, private readonly opts: FileSourceOptions = {}) {
    this.current = spec.load(path);
  }

  /** The configuration in force (the last valid version of the file). */
  get config(): C {
    return this.current;
  }

  async snapshot(): Promise<T[]> {
    return this.spec.items(this.current);
  }

  /**
   * Starts watching. The file is re-read once right away (asynchronously), so
   * an edit made between snapshot() and watch() is not lost; after that, on
   * every change that fs.watchFile sees.
   */
  watch(onEvents: (batch: E[]) => void): void {
    if (this.closed) throw new Error(`${this.spec.name}.watch: the source is closed`);
    if (this.onEvents) throw new Error(`${this.spec.name}.watch: already watching`);
    this.onEvents = onEvents;
    const interval = this.opts.intervalMs ?? 1000;
    if (interval > 0) {
      watchFile(this.path, { interval, persistent: this.opts.persistent ?? true }, this.listener);
      this.polling = true;
    }
    setImmediate(() => this.reload());
  }

  /**
   * Re-reads the file now and emits the difference as one batch (nothing when
   * the items did not change). Returns the batch. Safe to call from a SIGHUP
   * handler. An invalid file goes to onError and changes nothing.
   */
  reload(): E[] {
    if (this.closed) return [];
    let next: C;
    try {
      next = this.spec.load(this.path);
      const fixed = this.spec.fixedChange(this.current, next);
      if (fixed) throw new ConfigError(`${this.path}: ${fixed}: restart vxtap to apply it; this edit is ignored`, fixed.split(' ')[0]);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.opts.onError?.(err);
      return [];
    }
    const batch = this.spec.diff(this.spec.items(this.current), this.spec.items(next));
    this.current = next;
    if (batch.length > 0 && this.onEvents) this.onEvents(batch);
    return batch;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.polling) unwatchFile(this.path, this.listener);
    this.polling = false;
    this.onEvents = null;
  }
}
