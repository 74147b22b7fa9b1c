/**
 * A flood-list stand-in for VtepSource tests (the L2 twin of
 * peer-consumer.ts): applies each batch to its own table, keyed by public
 * IP, as the node's consumer would (floodList.add / remove), and notes what a
 * consumer must never see: an add of a VTEP it already has, a remove of one
 * it does not have or with other data than it was given.
 */
import { sameVtep, type Vtep, type VtepEvent } from '../../src/control/l2-network';

export class VtepConsumer {
  readonly table = new Map<string, Vtep>();
  readonly batches: VtepEvent[][] = [];
  readonly problems: string[] = [];

  constructor(snapshot: readonly Vtep[] = []) {
    for (const v of snapshot) this.table.set(v.publicIp, v);
  }

  readonly onEvents = (batch: VtepEvent[]): void => {
    this.batches.push(batch);
    for (const e of batch) {
      const had = this.table.get(e.vtep.publicIp);
      if (e.type === 'added') {
        if (had) this.problems.push(`added ${e.vtep.publicIp} which is already there`);
        this.table.set(e.vtep.publicIp, e.vtep);
      } else {
        if (!had) this.problems.push(`removed ${e.vtep.publicIp} which is not there`);
        else if (!sameVtep(had, e.vtep)) this.problems.push(`removed ${e.vtep.publicIp} with other data than was added`);
        this.table.delete(e.vtep.publicIp);
      }
    }
  };

  /** The public IPs in the table, sorted. */
  ips(): string[] {
    return [...this.table.keys()].sort();
  }

  /** Every event so far as '<type> <publicIp>'. */
  events(): string[] {
    return this.batches.flat().map((e) => `${e.type} ${e.vtep.publicIp}`);
  }
}
