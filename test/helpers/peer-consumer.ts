/**
 * A data-plane stand-in for peer source tests: applies each batch to its own
 * table, as the switch's consumer loop would, and counts what a consumer
 * must never see (an add for a subnet it already has, a remove of something
 * it does not have or that differs from what it was given).
 */
import { samePeer, type Peer, type PeerEvent } from '../../src/control/peers';

export class PeerConsumer {
  readonly table = new Map<string, Peer>();
  readonly batches: PeerEvent[][] = [];
  readonly problems: string[] = [];

  constructor(snapshot: readonly Peer[] = []) {
    for (const p of snapshot) this.table.set(p.subnet, p);
  }

  readonly onEvents = (batch: PeerEvent[]): void => {
    this.batches.push(batch);
    for (const e of batch) {
      const had = this.table.get(e.peer.subnet);
      if (e.type === 'added') {
        if (had) this.problems.push(`added ${e.peer.subnet} which is already there`);
        this.table.set(e.peer.subnet, e.peer);
      } else {
        if (!had) this.problems.push(`removed ${e.peer.subnet} which is not there`);
        else if (!samePeer(had, e.peer)) this.problems.push(`removed ${e.peer.subnet} with other data than was added`);
        this.table.delete(e.peer.subnet);
      }
    }
  };

  /** The table as sorted '<subnet> <publicIp> <mac>' lines. */
  lines(): string[] {
    return [...this.table.values()].map(line).sort();
  }

  events(): string[] {
    return this.batches.flat().map((e) => `${e.type} ${line(e.peer)}`);
  }
}

export function line(p: Peer): string {
  return `${p.subnet} ${p.publicIp} ${p.vtepMac}`;
}
