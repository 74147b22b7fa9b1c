/**
 * The send pool of BatchUdpPort's UDP GSO mode: `count` send-only UDP
 * sockets bound to the contiguous source ports min .. min + count - 1, inside
 * RFC 7348's 49152-65535. The VXLAN flow hash picks the port, and so the
 * socket (native/udp-pool.cc says why a pool: a raw socket can write any
 * source port but cannot use UDP GSO; a UDP socket can, from its one port).
 */
import { toSystemError, type Addon } from './native';

/** RFC 7348 section 5: the outer source port is in the dynamic range 49152-65535. */
const SOURCE_PORT_MIN = 49152;

export interface SendPool {
  /** fds[i] is bound to port min + i. */
  readonly fds: Int32Array;
  readonly min: number;
}

/** Default pool size: 64 source ports (6 bits of ECMP entropy per VTEP pair). */
export const POOL_PORTS = 64;

/**
 * Binds `count` ports at a random block start (aligned to count) and tries
 * other blocks when a port is taken. Throws SystemError (EADDRINUSE after
 * `tries` blocks, EADDRNOTAVAIL for a srcIp that is not ours, ...).
 */
export function openSendPool(addon: Addon, srcIp: string, opts: { count?: number; sndbuf?: number; tries?: number } = {}): SendPool {
  const count = opts.count ?? POOL_PORTS;
  const blocks = Math.floor((65536 - SOURCE_PORT_MIN) / count);
  const tries = opts.tries ?? 8;
  let last: unknown = null;
  for (let t = 0; t < tries; t++) {
    const min = SOURCE_PORT_MIN + Math.floor(Math.random() * blocks) * count;
    const fds = new Int32Array(count);
    let opened = 0;
    try {
      for (; opened < count; opened++) {
        fds[opened] = addon.udpOpen(srcIp, min + opened, { sndbuf: opts.sndbuf, sendOnly: true });
      }
      return { fds, min };
    } catch (err) {
      for (let i = 0; i < opened; i++) addon.close(fds[i]!);
      last = err;
      if ((err as { code?: string }).code !== 'EADDRINUSE') break;
    }
  }
  throw toSystemError(last);
}

export function closeSendPool(addon: Addon, pool: SendPool): void {
  for (const fd of pool.fds) addon.close(fd);
}
