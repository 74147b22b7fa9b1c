/**
 * The ARP table: overlay IPv4 -> MAC, the user-space counterpart of
 * `ip neigh show dev flannel.1`. In the flannel scheme it holds one entry per
 * remote host: `<peer subnet>.0` -> the peer's VTEP MAC. The ARP responder
 * answers from it, so ARP for known addresses never crosses the network and
 * the kernel needs no static neighbour entries.
 */
import { formatIpv4, macStringFromKey } from '../wire/addr';

export class ArpTable {
  private readonly byIp = new Map<number, number>();

  get size(): number {
    return this.byIp.size;
  }

  /** The MAC key for an IPv4 (host-order u32), or undefined. */
  lookup(ip: number): number | undefined {
    return this.byIp.get(ip);
  }

  set(ip: number, mac: number): void {
    this.byIp.set(ip, mac);
  }

  delete(ip: number): boolean {
    return this.byIp.delete(ip);
  }

  /** For `vxtap arp` and traces. */
  list(): { ip: string; mac: string }[] {
    return [...this.byIp].map(([ip, mac]) => ({ ip: formatIpv4(ip), mac: macStringFromKey(mac) }));
  }
}
