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
import { EtcdPrefixSource, type PrefixSourceStatus } from './prefix-source';
import { decodeVtep } from './vteps';
import { originOf, type BackoffOptions, type Kv } from './watch';

export interface IgnoredVtep {
  readonly key: string;
  readonly detail: string;
}

export type VtepSourceStatus = PrefixSourceStatus;

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

/** The listing, watching and resyncing are prefix-source.ts's; this says which keys are VTEPs. */
export class EtcdVtepSource extends EtcdPrefixSource<Vtep, VtepEvent> implements VtepSource {
  /** How many malformed values were ignored (each version of a key once). */
  ignored = 0;

  constructor(client: Etcd3, private readonly opts: EtcdVtepSourceOptions) {
    super(client, 'EtcdVtepSource', opts.prefix, opts);
  }

  /** The VTEPs the consumer has been given so far. */
  vteps(): Vtep[] {
    return this.items();
  }

  protected diff(before: readonly Vtep[], after: readonly Vtep[]): VtepEvent[] {
    return diffVteps(before, after);
  }

  protected derive(kv: Kv): Vtep | null {
    if (kv.key === this.opts.prefix + this.opts.selfIp) return null;
    try {
      return { ...decodeVtep(kv.key, kv.value), source: originOf(kv) };
    } catch (err) {
      if (this.reportOnce(kv)) {
        this.ignored++;
        this.opts.onIgnored?.({ key: kv.key, detail: (err as Error).message });
      }
      return null;
    }
  }
}
