/**
 * /metrics: the daemon's counters in the Prometheus text exposition format.
 *
 * Built on prom-client (the maintained Node client: exposition format,
 * escaping, HELP/TYPE lines and the process metrics come with it). Every
 * vxtap metric is read at scrape time from the same state `vxtap stats`
 * shows (collect() callbacks), so the hot path does no extra work: a counter
 * is set to the switch's own count, never incremented per frame here.
 *
 * Names: `vxtap_` prefix, `_total` for counters, base units (`_bytes`,
 * `_seconds`). The process metrics (CPU, RSS, open fds, start time) carry
 * the same prefix. prom-client's own default metrics are not used: three of
 * them (`nodejs_active_handles_total`, …) are gauges named like counters,
 * which `promtool check metrics` rightly rejects.
 */
import { readdirSync } from 'node:fs';
import { Counter, Gauge, Registry } from 'prom-client';
import type { CountersSnapshot } from '../../switch/counters';
import type { ControlStatus } from '../network';
import type { Health } from './health';

/** What a scrape reads; every part may be absent while the daemon comes up. */
export interface MetricsSource {
  readonly health: Health;
  /** The switch's counters, or null before the node is up. */
  counters(): CountersSnapshot | null;
  /** The node's stats (node.ts), or null before it is up. */
  stats(): Record<string, unknown> | null;
  /** Table sizes, or null before the node is up. */
  tables(): { fdb: number; arp: number; peers: number; floodList?: number } | null;
  control(): ControlStatus | null;
}

/** Sets a counter to an absolute value read from the switch (prom-client counters only go up: reset, then add). */
function setCounter(c: Counter<string>, value: number, labels?: Record<string, string>): void {
  if (labels === undefined) c.inc(value);
  else c.inc(labels, value);
}

export function createMetrics(src: MetricsSource): Registry {
  const registry = new Registry();

  const fromCounters = (name: string, help: string, pick: (c: CountersSnapshot) => number): void => {
    new Counter({
      name, help, registers: [registry],
      collect() {
        const c = src.counters();
        this.reset();
        if (c !== null) setCounter(this, pick(c));
      },
    });
  };
  fromCounters('vxtap_tap_frames_read_total', 'Frames read from the TAP (segments of a TSO super-frame counted one by one).', (c) => c.tapInFrames);
  fromCounters('vxtap_udp_datagrams_received_total', 'Datagrams received on the VXLAN UDP port.', (c) => c.netInFrames);
  fromCounters('vxtap_encap_frames_total', 'Frames encapsulated and sent to a VTEP (TAP to VXLAN).', (c) => c.encapFrames);
  fromCounters('vxtap_encap_bytes_total', 'Inner bytes encapsulated (TAP to VXLAN).', (c) => c.encapBytes);
  fromCounters('vxtap_decap_frames_total', 'Frames decapsulated and written to the TAP (VXLAN to TAP).', (c) => c.decapFrames);
  fromCounters('vxtap_decap_bytes_total', 'Inner bytes decapsulated (VXLAN to TAP).', (c) => c.decapBytes);
  fromCounters('vxtap_arp_answered_total', 'ARP requests answered locally from the ARP table.', (c) => c.arpAnswered);
  fromCounters('vxtap_tap_batches_total', 'Batches read from the TAP (one JavaScript crossing each).', (c) => c.tapBatches);
  fromCounters('vxtap_udp_batches_total', 'Batches received from UDP (one JavaScript crossing each).', (c) => c.netBatches);
  // L2 mode (zeros in routed mode): the switch's learning, flooding and ARP suppression.
  fromCounters('vxtap_l2_macs_learned_total', 'L2 mode: MACs learned from decapsulated frames (new entries).', (c) => c.l2.learned);
  fromCounters('vxtap_l2_macs_moved_total', 'L2 mode: learned MACs that appeared behind another VTEP.', (c) => c.l2.moved);
  fromCounters('vxtap_l2_macs_aged_total', 'L2 mode: learned MACs forgotten after --fdb-ageing without traffic.', (c) => c.l2.aged);
  fromCounters('vxtap_l2_macs_refused_total', 'L2 mode: new MACs not learned because the FDB held --fdb-max entries.', (c) => c.l2.fdbRefused);
  fromCounters('vxtap_l2_flooded_frames_total', 'L2 mode: broadcast, multicast and unknown-unicast frames flooded to the flood list.', (c) => c.l2.floodedFrames);
  fromCounters('vxtap_l2_flood_copies_total', 'L2 mode: copies sent by head-end replication (one per VTEP per flooded frame).', (c) => c.l2.floodCopies);
  fromCounters('vxtap_l2_arp_suppressed_total', 'L2 mode: ARP requests answered locally from the snooped ARP table instead of flooded.', (c) => c.l2.arpSuppressed);

  new Counter({
    name: 'vxtap_drops_total', help: 'Frames and datagrams dropped, by reason (the reasons of `vxtap stats`).', labelNames: ['reason'], registers: [registry],
    collect() {
      const c = src.counters();
      this.reset();
      if (c !== null) for (const [reason, n] of Object.entries(c.drops)) setCounter(this, n, { reason });
    },
  });

  new Counter({
    name: 'vxtap_napi_calls_total', help: 'Crossings between JavaScript and the addon, by port and direction.', labelNames: ['port', 'direction'], registers: [registry],
    collect() {
      this.reset();
      for (const [port, dir, calls] of crossings(src.stats())) setCounter(this, calls.calls, { port, direction: dir });
    },
  });
  new Counter({
    name: 'vxtap_napi_frames_total', help: 'Frames moved by those crossings, by port and direction (frames per call = this / vxtap_napi_calls_total).', labelNames: ['port', 'direction'], registers: [registry],
    collect() {
      this.reset();
      for (const [port, dir, calls] of crossings(src.stats())) setCounter(this, calls.frames, { port, direction: dir });
    },
  });

  new Counter({
    name: 'vxtap_port_events_total',
    help: 'Each port\'s own counters (offloads, truncations, errors), by port and counter name as `vxtap stats` shows them.',
    labelNames: ['port', 'counter'], registers: [registry],
    collect() {
      const s = src.stats();
      this.reset();
      if (s === null) return;
      for (const port of ['tap', 'udp'] as const) {
        for (const [counter, n] of numericLeaves(s[`${port}Port`])) setCounter(this, n, { port, counter });
      }
    },
  });

  new Counter({
    name: 'vxtap_lease_refusals_total', help: 'Leases refused by the lease rules, by reason (README: Which leases are accepted).', labelNames: ['reason'], registers: [registry],
    collect() {
      this.reset();
      const l = src.stats()?.['leases'] as { refusals?: Record<string, number> } | undefined;
      for (const [reason, n] of Object.entries(l?.refusals ?? {})) setCounter(this, n, { reason });
    },
  });

  const gauge = (name: string, help: string, read: () => number | null): void => {
    new Gauge({
      name, help, registers: [registry],
      collect() {
        const v = read();
        this.reset();
        if (v !== null) this.set(v);
      },
    });
  };
  gauge('vxtap_fdb_entries', 'Entries in the forwarding database.', () => src.tables()?.fdb ?? null);
  gauge('vxtap_arp_entries', 'Entries in the ARP table.', () => src.tables()?.arp ?? null);
  gauge('vxtap_peers', 'Remote hosts installed (route, ARP and FDB entry each).', () => src.tables()?.peers ?? null);
  gauge('vxtap_l2_flood_list_vteps', 'L2 mode: VTEPs in the flood list (0 in routed mode).', () => src.tables()?.floodList ?? (src.tables() === null ? null : 0));
  gauge('vxtap_leases_refused', 'Leases refused now.', () => {
    const l = src.stats()?.['leases'] as { refused?: unknown[] } | undefined;
    return l?.refused?.length ?? null;
  });
  gauge('vxtap_lease_remaining_seconds', 'Seconds until this host\'s lease runs out unless renewed (etcd mode).', () => {
    const lease = src.control()?.lease;
    return lease ? Math.max(0, (lease.expiresAt - Date.now()) / 1000) : null;
  });
  gauge('vxtap_lease_held', '1 while this host holds its lease (etcd mode).', () => {
    const lease = src.control()?.lease;
    return lease ? (lease.held ? 1 : 0) : null;
  });
  gauge('vxtap_etcd_up', '1 while etcd answers (etcd mode).', () => {
    const e = src.control()?.etcd;
    return e ? (e.reachable ? 1 : 0) : null;
  });
  new Counter({
    name: 'vxtap_process_cpu_seconds_total', help: 'CPU time of the daemon (user and system).', labelNames: ['mode'], registers: [registry],
    collect() {
      const u = process.cpuUsage();
      this.reset();
      this.inc({ mode: 'user' }, u.user / 1e6);
      this.inc({ mode: 'system' }, u.system / 1e6);
    },
  });
  gauge('vxtap_process_resident_memory_bytes', 'Resident memory of the daemon.', () => process.memoryUsage.rss());
  gauge('vxtap_process_heap_used_bytes', 'JavaScript heap in use.', () => process.memoryUsage().heapUsed);
  gauge('vxtap_process_open_fds', 'Open file descriptors.', () => {
    try { return readdirSync('/proc/self/fd').length; } catch { return null; }
  });
  const started = Date.now() / 1000 - process.uptime();
  gauge('vxtap_process_start_time_seconds', 'When the daemon started, seconds since the epoch.', () => started);
  gauge('vxtap_event_loop_lag_seconds', 'The longest event-loop delay since the last scrape.', () => src.health.takeLoopLagSeconds());
  gauge('vxtap_ready', '1 when /readyz would answer 200.', () => (src.health.ready().ok ? 1 : 0));
  return registry;
}

type Calls = { calls: number; frames: number };

/** [port, direction, calls] from the node's `crossings` (CallCounts of the TAP and UDP ports). */
function crossings(s: Record<string, unknown> | null): [string, string, Calls][] {
  const c = s?.['crossings'] as { tap?: Record<string, number>; udp?: Record<string, number> } | undefined;
  const out: [string, string, Calls][] = [];
  for (const port of ['tap', 'udp'] as const) {
    const x = c?.[port];
    if (x === undefined) continue;
    out.push([port, 'rx', { calls: x['rxCalls'] ?? 0, frames: x['rxFrames'] ?? 0 }]);
    out.push([port, 'tx', { calls: x['txCalls'] ?? 0, frames: x['txFrames'] ?? 0 }]);
  }
  return out;
}

/**
 * Port stats that are settings or sizes, not counts: they can go down or
 * away, so they are not exported as counters (`vxtap stats` shows them).
 */
const NOT_COUNTERS: ReadonlySet<string> = new Set(['gso.segmentLimit']);

/** Every finite, non-negative count in a nested object, with its dotted path ('offload.gsoFrames'). */
export function numericLeaves(v: unknown, path = ''): [string, number][] {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 && path !== '' && !NOT_COUNTERS.has(path) ? [[path, v]] : [];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return [];
  return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => numericLeaves(x, path === '' ? k : `${path}.${k}`));
}
