/**
 * Is the daemon alive, and is it ready? The answers behind /healthz and
 * /readyz (http.ts), from facts the daemon reports as it comes up.
 *
 * Alive: the process answers and its event loop has not stalled lately. A
 * stalled loop cannot answer while it is stalled, so a heartbeat timer
 * measures each gap; a gap over `stallMs` within the last `stallWindowMs`
 * makes /healthz fail, so a probe that arrives after a stall still sees it.
 *
 * Ready: the TAP is up and the switch forwards, this host holds its lease
 * (etcd), and the peers were synced at least once. etcd unreachable for
 * longer than `etcdGraceMs` is not ready either, with the reason in the
 * body, though forwarding goes on with the last known peers.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { ControlStatus } from '../network';

export interface HealthOptions {
  /** A heartbeat gap longer than this is a stall. Default 5000 ms. */
  readonly stallMs?: number;
  /** How long a stall keeps /healthz failing. Default 30000 ms. */
  readonly stallWindowMs?: number;
  /** How long etcd may be unreachable before /readyz says not ready. Default 30000 ms. */
  readonly etcdGraceMs?: number;
  /** Heartbeat period. Default 250 ms. */
  readonly beatMs?: number;
}

export interface Verdict {
  readonly ok: boolean;
  /** One line per reason (why not, or 'ok'). */
  readonly reasons: readonly string[];
}

export class Health {
  /** Set by the daemon as it comes up. */
  tapUp = false;
  peersSynced = false;
  /** The control plane's status, once joined. */
  control: (() => ControlStatus) | null = null;
  private readonly stallMs: number;
  private readonly stallWindowMs: number;
  private readonly etcdGraceMs: number;
  private lastBeat = Date.now();
  private lastStall: { at: number; ms: number } | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly delay: IntervalHistogram;

  constructor(opts: HealthOptions = {}) {
    this.stallMs = opts.stallMs ?? 5000;
    this.stallWindowMs = opts.stallWindowMs ?? 30000;
    this.etcdGraceMs = opts.etcdGraceMs ?? 30000;
    this.timer = setInterval(() => this.beat(), opts.beatMs ?? 250);
    this.timer.unref();
    this.delay = monitorEventLoopDelay({ resolution: 20 });
    this.delay.enable();
  }

  /** The longest event-loop delay since the last call, in seconds (for the metrics), then resets it. */
  takeLoopLagSeconds(): number {
    const max = this.delay.max / 1e9;
    this.delay.reset();
    return Number.isFinite(max) ? max : 0;
  }

  alive(now = Date.now()): Verdict {
    this.beat(now);
    const s = this.lastStall;
    if (s !== null && now - s.at < this.stallWindowMs) {
      return { ok: false, reasons: [`event loop stalled for ${(s.ms / 1000).toFixed(1)} s, ${Math.round((now - s.at) / 1000)} s ago`] };
    }
    return { ok: true, reasons: ['ok'] };
  }

  ready(now = Date.now()): Verdict {
    const why: string[] = [];
    if (!this.tapUp) why.push('the TAP is not up yet');
    const st = this.control?.() ?? null;
    if (st === null) why.push('not joined to the network yet');
    if (st?.lease && !st.lease.held) why.push(`this host does not hold its lease (${st.lease.subnet}) now`);
    if (!this.peersSynced) why.push('the peers were not synced yet');
    if (st?.etcd && !st.etcd.reachable && now - st.etcd.since > this.etcdGraceMs) {
      why.push(`etcd unreachable for ${Math.round((now - st.etcd.since) / 1000)} s (${st.etcd.error ?? 'no answer'}); forwarding goes on with the last known peers`);
    }
    return why.length === 0 ? { ok: true, reasons: ['ok'] } : { ok: false, reasons: why };
  }

  close(): void {
    clearInterval(this.timer);
    this.delay.disable();
  }

  private beat(now = Date.now()): void {
    const gap = now - this.lastBeat;
    if (gap > this.stallMs) this.lastStall = { at: now, ms: gap };
    this.lastBeat = now;
  }
}
