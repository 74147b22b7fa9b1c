/**
 * DgramUdpPort: the portable underlay over `node:dgram` (`--io dgram`), for
 * hosts without the addon or without CAP_NET_RAW. Same batch contract, at a
 * cost: one JS call and one copy per datagram in each direction.
 *
 * - Receiving: each message is copied into the next slot of the batch;
 *   messages that arrive in the same event-loop turn are delivered together,
 *   once, from setImmediate (or at once when the slots are full). Every
 *   message is delivered (a zero-length one too, for the switch to count as
 *   a drop) or counted in stats.rxTruncated when it is longer than a slot
 *   (the switch folds that count into its `vxlan-too-long` drops). A message
 *   longer than a slot that holds a whole VXLAN TCP super-frame (a kernel
 *   vxlan peer's TSO across a veth) is cut into segments in the addon.
 * - Sending: dgram sends asynchronously and the caller reuses the slab as soon
 *   as send() returns, so each span is copied first. The source port is the
 *   bound port (`writesUdpHeader` is false: spans start at the VXLAN header).
 */
import * as dgram from 'node:dgram';
import { constants } from 'node:os';
import { SystemError } from '../errors';
import { formatIpv4, parseIpv4 } from '../wire/addr';
import { CallCounts, SENT, notWhole, type BatchHandler, type DatagramPort, type FrameBatch, type SendList, type WholeSuperFrames } from './port';
import { addonAvailable, loadAddon, toSystemError, type PortErrorHandler, type PortStats } from './native';

export interface DgramUdpOptions {
  bindIp: string;
  /** 0 = ephemeral (see localPort). */
  port: number;
  rcvbuf?: number;
  sndbuf?: number;
}

export class DgramUdpPort implements DatagramPort {
  readonly writesUdpHeader = false;

  /** Node's sockets send one datagram per span: nothing here cuts a super-frame. */
  wholeSuperFrames(): WholeSuperFrames {
    return notWhole('--io dgram sends one datagram per span through Node\'s sockets, which do not cut super-frames');
  }
  /** See PortErrorHandler. Socket errors here are never fatal: the socket goes on. */
  onError: PortErrorHandler | null = null;
  private batch: FrameBatch | null = null;
  private handler: BatchHandler | null = null;
  private pending = 0;
  private immediate: NodeJS.Immediate | null = null;
  private closed = false;
  private rxTruncated = 0;
  private rxErrors = 0;
  private txSkipped = 0;
  private lastTxError: string | null = null;
  /** Each datagram received is one call from the native side; each socket.send() one call into it. */
  readonly calls = new CallCounts();
  private readonly flushNow = (): void => this.flush();
  private readonly onSent = (err: Error | null): void => {
    if (err === null || err === undefined) return;
    this.txSkipped++;
    this.lastTxError = (err as NodeJS.ErrnoException).code ?? 'EIO';
  };

  private constructor(
    private readonly socket: dgram.Socket,
    /** The bound UDP port. */
    readonly localPort: number,
  ) {
    socket.on('message', (msg, rinfo) => this.receive(msg, rinfo));
    socket.on('error', (err) => {
      this.rxErrors++;
      if (this.onError !== null) this.onError(toSystemError(err) as SystemError, false);
    });
  }

  /** Binds the socket. Rejects with SystemError (EADDRINUSE, EADDRNOTAVAIL, ...). */
  static open(opts: DgramUdpOptions): Promise<DgramUdpPort> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket({
        type: 'udp4',
        ...(opts.rcvbuf !== undefined ? { recvBufferSize: opts.rcvbuf } : {}),
        ...(opts.sndbuf !== undefined ? { sendBufferSize: opts.sndbuf } : {}),
      });
      const failed = (err: Error): void => {
        try {
          socket.close();
        } catch {
          /* never bound: nothing to close */
        }
        reject(toSystemError(err));
      };
      socket.once('error', failed);
      socket.bind({ address: opts.bindIp, port: opts.port, exclusive: true }, () => {
        socket.removeListener('error', failed);
        resolve(new DgramUdpPort(socket, socket.address().port));
      });
    });
  }

  get stats(): PortStats {
    return { rxTruncated: this.rxTruncated, rxErrors: this.rxErrors, txSkipped: this.txSkipped, lastTxError: this.lastTxError };
  }

  start(batch: FrameBatch, onBatch: BatchHandler): void {
    if (this.closed) throw new SystemError('recvmsg', 'EBADF', 'the UDP port is closed');
    if (this.batch !== null) throw new Error('this port is already reading: stop() it before start() again');
    this.batch = batch;
    this.handler = onBatch;
    this.pending = 0;
  }

  /** Stops delivering batches (datagrams that arrive meanwhile are dropped). */
  stop(): void {
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
    this.batch = null;
    this.handler = null;
    this.pending = 0;
  }

  /**
   * Copies each span and sends it to its endpoint (list.eps into
   * list.endpoints, formatted here: Node's API takes a string). Returns how many were
   * handed to dgram, and list.status says which (SENT, or the errno of a
   * send dgram refused at once: EINVAL for port 0, ERR_SOCKET_BAD_PORT).
   * Sends that fail later (asynchronously, after the batch is accounted:
   * EACCES, EMSGSIZE, ...) keep SENT and are counted only in
   * stats.txSkipped / lastTxError, like those refused here.
   */
  send(slab: Buffer, list: SendList): number {
    if (this.closed) throw new SystemError('send', 'EBADF', 'send on a closed UDP port');
    let accepted = 0;
    for (let k = 0; k < list.count; k++) {
      const start = list.starts[k]!;
      const copy = Buffer.from(slab.subarray(start, start + list.lens[k]!));
      try {
        this.socket.send(copy, list.port(k), formatIpv4(list.addr(k)), this.onSent);
        accepted++;
        this.calls.txCalls++;
        this.calls.txFrames++;
        list.status[k] = SENT;
      } catch (err) {
        // dgram checks some things at once (port 0 is ERR_SOCKET_BAD_PORT): a drop, like a refused send.
        this.onSent(err as Error);
        list.status[k] = errnoOf(err);
      }
    }
    return accepted;
  }

  /** Stops delivery and closes the socket. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stop();
    this.socket.close();
  }

  private receive(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.calls.rxCalls++;
    this.calls.rxFrames++;
    const batch = this.batch;
    if (batch === null) return;
    if (msg.length > batch.capacity) {
      this.receiveSuper(msg, rinfo, batch);
      return;
    }
    const i = this.pending++;
    msg.copy(batch.slab, batch.frameStart(i));
    batch.sizes[i] = msg.length;
    batch.setSender(i, parseIpv4(rinfo.address), rinfo.port);
    if (this.pending === batch.slots) this.flush();
    else if (this.immediate === null) this.immediate = setImmediate(this.flushNow);
  }

  /**
   * A datagram longer than a slot: when it is one VXLAN TCP super-frame (a
   * kernel vxlan peer's TSO, passed whole by a veth), cut into segments in
   * the addon as the native readers do (vxlanSplitSuper); else truncated.
   */
  private receiveSuper(msg: Buffer, rinfo: dgram.RemoteInfo, batch: FrameBatch): void {
    if (!addonAvailable()) {
      this.rxTruncated++;
      return;
    }
    const addon = loadAddon();
    let n = addon.vxlanSplitSuper(msg, batch.slab, batch.slotSize, batch.headroom, this.pending, batch.slots, batch.sizes, batch.mtu);
    if (n === 0 && this.pending > 0) {
      this.flush(); // not enough slots left in this batch: start a new one
      n = addon.vxlanSplitSuper(msg, batch.slab, batch.slotSize, batch.headroom, 0, batch.slots, batch.sizes, batch.mtu);
    }
    if (n === 0) {
      this.rxTruncated++;
      return;
    }
    const addr = parseIpv4(rinfo.address);
    for (let i = this.pending; i < this.pending + n; i++) batch.setSender(i, addr, rinfo.port);
    this.pending += n;
    if (this.pending === batch.slots) this.flush();
    else if (this.immediate === null) this.immediate = setImmediate(this.flushNow);
  }

  private flush(): void {
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.immediate = null;
    const batch = this.batch;
    const handler = this.handler;
    const n = this.pending;
    this.pending = 0;
    if (batch === null || handler === null || n === 0) return;
    batch.count = n;
    handler(batch);
  }
}

/** A positive errno for a send dgram refused at once: its own (libuv's are negative), or EINVAL for a Node check (ERR_*). */
function errnoOf(err: unknown): number {
  const e = (err as NodeJS.ErrnoException).errno;
  if (typeof e === 'number' && e !== 0) return Math.abs(e);
  const code = (err as NodeJS.ErrnoException).code;
  const named = code === undefined ? undefined : (constants.errno as Record<string, number>)[code];
  return named ?? constants.errno.EINVAL;
}
