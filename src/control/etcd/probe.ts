/**
 * The etcd side of `vxtap explain`'s provenance (control/origin.ts): a key as
 * it stands now, with its lease's remaining TTL. Asked at explain time, not
 * kept: the TTL runs down, and a key rewritten with the same value changes
 * its mod revision without any event reaching the tables.
 */
import type { Etcd3 } from 'etcd3';
import type { EtcdKeyNow, EtcdProbe } from '../origin';
import { listRange } from './watch';

/** A probe over the control plane's own client (one range and, for a key with a lease, one LeaseTimeToLive). */
export function etcdProbe(client: Etcd3): EtcdProbe {
  return {
    async keyNow(key: string): Promise<EtcdKeyNow | null> {
      const { kvs } = await listRange(client, { key });
      const kv = kvs[0];
      if (kv === undefined) return null;
      let ttl: number | null = null;
      let grantedTtl: number | null = null;
      if (kv.lease !== '0') {
        const r = await client.leaseClient.leaseTimeToLive({ ID: kv.lease, keys: false });
        ttl = Number(r.TTL);
        grantedTtl = Number(r.grantedTTL);
      }
      return { key: kv.key, modRevision: kv.modRevision, createRevision: kv.createRevision, lease: kv.lease, ttl, grantedTtl };
    },
  };
}
