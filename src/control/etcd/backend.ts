/**
 * What the routed (etcd-network.ts) and the L2 (etcd-l2.ts) etcd backends
 * share: one client per join, closed when the join fails, when the network
 * it gave is closed, or by abort() (a signal during start-up ends a join
 * still retrying); and the "is etcd reachable, since when" state that
 * /readyz and the metrics read.
 */
import type { Etcd3 } from 'etcd3';
import { createEtcdClient, type EtcdClientOptions } from './client';

/** Whether etcd answers, since when (ms since the epoch), and the last error. */
export class Reachability {
  state: { readonly reachable: boolean; readonly since: number; readonly error: string | null } = { reachable: true, since: Date.now(), error: null };

  /** Records a change (the same state again keeps its `since`). */
  set(reachable: boolean, error: string | null): void {
    if (this.state.reachable !== reachable) this.state = { reachable, since: Date.now(), error };
  }
}

export abstract class EtcdBackend {
  private client: Etcd3 | null = null;
  /** True once the join failed, was aborted, or its network was closed: retries stop. */
  protected closed = false;

  protected constructor(private readonly clientOpts: EtcdClientOptions) {}

  /** Opens the join's client and runs `body` with it; a failure closes the client and is rethrown. */
  protected async withClient<T>(body: (client: Etcd3) => Promise<T>): Promise<T> {
    const client = createEtcdClient(this.clientOpts);
    this.client = client;
    try {
      return await body(client);
    } catch (err) {
      this.closed = true;
      client.close();
      throw err;
    }
  }

  /** The network's close(): stops retries, closes each part in order, then the client. */
  protected closer(client: Etcd3, ...parts: { close(): Promise<void> }[]): () => Promise<void> {
    return async () => {
      this.closed = true;
      for (const p of parts) await p.close();
      client.close();
    };
  }

  /** Ends a join() still retrying (a signal during start-up). */
  abort(): void {
    this.closed = true;
    this.client?.close();
  }
}
