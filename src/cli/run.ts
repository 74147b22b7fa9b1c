/**
 * `vxtap run`: this host as a VTEP, until SIGTERM/SIGINT.
 *
 *   1. underlay   the interface (default: the one with the default route),
 *                 its IPv4 address (the public IP) and its MTU;
 *   2. network    from the control plane: `--peers FILE` (static) or etcd
 *                 (the default): VNI, port, this host's subnet, the peers;
 *   3. node       TAP, ports, switch, peers, subnet file (node.ts).
 * On SIGTERM/SIGINT: remove the routes, close the TAP; the etcd lease stays,
 * so a restart within its TTL gets the same subnet back. A second signal
 * exits at once. SIGUSR1 logs the counters and tables; SIGHUP re-reads a
 * peers file.
 */
import type { Logger } from 'pino';
import { ConfigError } from '../errors';
import { KernelNet } from '../control/kernel';
import type { NetworkBackend } from '../control/network';
import { macFromIp } from '../control/peers';
import { EtcdNetwork, type EtcdNetworkOptions } from '../control/etcd-network';
import { StaticNetwork } from '../control/static-network';
import { isIpv6 as isIpv6Text } from '../control/ip6';
import { isIpv4 } from '../wire/addr';
import { checkUnderlayChoice, describeChoice, pickUnderlay, pickUnderlay6, type UnderlayChoice } from '../control/underlay-pick';
import { formatIpv6, isIpv6, parseIpv6 } from '../control/ip6';
import { startNode, type IoMode, type NodeOptions } from './node';
import { startL2Node } from './node-l2';
import type { L2Backend } from '../control/l2-network';
import { StaticL2Network } from '../control/static-l2';
import { EtcdL2Network } from '../control/etcd-l2';
import type { DaemonInfo } from '../control/api/views';
import { ControlServer } from '../control/api/server';
import { Health } from '../control/api/health';
import { HealthServer } from '../control/api/http';
import { createMetrics } from '../control/api/metrics';
import type { RunningNode } from './node';
import { Notifier } from './sd-notify';
import { statsMessage } from './stats-line';

export type { IoMode } from './node';
export const IO_MODES: readonly IoMode[] = ['batch', 'dgram'];

/** routed: flannel's vxlan scheme (the default); l2: a VXLAN switch (flood and learn). */
export type ForwardingMode = 'routed' | 'l2';
export const MODES: readonly ForwardingMode[] = ['routed', 'l2'];
/** The kernel bridge's and vxlan device's default ageing time (br_ageing_time, 300 s). */
export const DEFAULT_FDB_AGEING_SECONDS = 300;
/** Enough for a large segment, small enough that a MAC flood costs a few MB at most. */
export const DEFAULT_FDB_MAX = 16384;

/** What L2 mode takes beyond the common flags (--bridge, --fdb-ageing, --fdb-max, --no-arp-suppress). */
export interface L2RunOptions {
  bridge?: string;
  ageingSeconds: number;
  fdbMax: number;
  arpSuppress: boolean;
  /** With etcd: the segment's VNI and port instead of <prefix>/config's Backend. */
  vni?: number;
  port?: number;
}

/** Flags that belong to one mode only: given with the other one, they are an error, not silently ignored. */
const L2_ONLY = ['--bridge', '--fdb-ageing', '--fdb-max', '--arp-suppress', '--no-arp-suppress', '--vni', '--port'];
const ROUTED_ONLY = ['--subnet-file', '--subnet-lease-ttl', '--subnet-lease-renew-margin', '--ip-masq', '--inner-source-check', '--no-inner-source-check'];

export function parseMode(v: string): ForwardingMode {
  if (!(MODES as readonly string[]).includes(v)) {
    throw new ConfigError(`--mode: must be one of ${MODES.join(', ')}, got ${JSON.stringify(v)}`, 'mode');
  }
  return v as ForwardingMode;
}

/** A flag of the other mode names itself and the mode it needs. */
export function checkModeFlags(mode: ForwardingMode, given: ReadonlySet<string>): void {
  const wrong = (mode === 'routed' ? L2_ONLY : ROUTED_ONLY).filter((f) => given.has(f));
  if (wrong.length > 0) {
    const other = mode === 'routed' ? 'l2' : 'routed';
    throw new ConfigError(`${wrong.join(', ')}: only with --mode ${other} (this is --mode ${mode})`, 'mode');
  }
}

export interface RunOptions extends NodeOptions {
  /** routed (the default) or l2. */
  mode?: ForwardingMode;
  l2?: L2RunOptions;
  /** Accept VXLAN from VTEPs that are not peers / not on the flood list. */
  acceptUnknownVteps?: boolean;
  /** The flags given explicitly (command line, environment), to refuse the other mode's flags. */
  explicit?: ReadonlySet<string>;
  /** A static peers file; without it, etcd is the control plane. */
  peers?: string;
  etcd: EtcdNetworkOptions;
  /** --iface, --iface-regex, --iface-can-reach (control/underlay-pick.ts). */
  underlay?: UnderlayChoice;
  publicIp?: string;
  /**
   * flannel's --public-ipv6: with an etcd network that enables IPv6, the
   * lease is dual-stack and names this address as PublicIPv6 (the IPv6
   * overlay itself travels over the IPv4 underlay, to PublicIP).
   */
  publicIpv6?: string;
  /** The control socket (`vxtap fdb|arp|peers|stats`); default: /run/vxtap/<tap>.sock (control/api/paths.ts). */
  controlSocket?: string;
  /** flannel's --healthz-ip/--healthz-port: /healthz, /readyz, /metrics; port 0 (the default) for none. */
  healthz?: { ip: string; port: number };
}

export function parseIoMode(v: string): IoMode {
  if (!(IO_MODES as readonly string[]).includes(v)) {
    throw new ConfigError(`--io: must be one of ${IO_MODES.join(', ')}, got ${JSON.stringify(v)}`, 'io');
  }
  return v as IoMode;
}

/** --healthz-ip: an IPv4 address to listen on (0.0.0.0: every one). */
export function parseHealthzIp(v: string): string {
  if (!isIpv4(v)) throw new ConfigError(`--healthz-ip: not an IPv4 address: ${JSON.stringify(v)}`, 'healthz-ip');
  return v;
}

/** Runs until SIGTERM/SIGINT (resolves) or a fatal failure (throws). */
export async function runCommand(opts: RunOptions, log: Logger): Promise<void> {
  checkUnderlayChoice(opts.underlay ?? {});
  if (opts.publicIp !== undefined && !isIpv4(opts.publicIp) && !isIpv6(opts.publicIp)) {
    throw new ConfigError(`--public-ip: not an IPv4 or IPv6 address: ${JSON.stringify(opts.publicIp)}`, 'public-ip');
  }
  if (opts.publicIpv6 !== undefined && !isIpv6Text(opts.publicIpv6)) {
    throw new ConfigError(`--public-ipv6: not an IPv6 address: ${JSON.stringify(opts.publicIpv6)}`, 'public-ipv6');
  }
  const mode = opts.mode ?? 'routed';
  // An IPv6 underlay (issue #13): L2 mode only for now; its address is named, not picked (underlay-pick.ts, pickUnderlay6).
  const publicIp6 = opts.publicIp !== undefined && isIpv6(opts.publicIp) ? formatIpv6(parseIpv6(opts.publicIp)) : null;
  if (publicIp6 !== null && mode !== 'l2') {
    throw new ConfigError(`--public-ip ${publicIp6}: an IPv6 underlay is supported in --mode l2 only (routed mode's VTEPs are IPv4)`, 'public-ip');
  }
  checkModeFlags(mode, opts.explicit ?? new Set());
  if (mode === 'l2' && opts.peers !== undefined && (opts.l2?.vni !== undefined || opts.l2?.port !== undefined)) {
    throw new ConfigError(`--vni, --port: the L2 peers file ${opts.peers} names the segment's VNI and port; these flags are for etcd`, 'mode');
  }
  // A peers file is read (and checked) before anything is touched.
  const backend: { l2: false; b: NetworkBackend } | { l2: true; b: L2Backend } = mode === 'l2'
    ? { l2: true, b: opts.peers !== undefined ? new StaticL2Network(opts.peers) : new EtcdL2Network({
      client: opts.etcd.client, prefix: opts.etcd.prefix,
      ...(opts.l2?.vni !== undefined ? { vni: opts.l2.vni } : {}), ...(opts.l2?.port !== undefined ? { port: opts.l2.port } : {}),
    }) }
    : {
      l2: false,
      b: opts.peers !== undefined
        ? new StaticNetwork(opts.peers, (err) => log.error({ err }, `peers file ${opts.peers} is not usable; keeping the last good state`))
        : new EtcdNetwork(opts.etcd),
    };

  let signalled: NodeJS.Signals | null = null;
  let wake: () => void = () => undefined;
  /** L2 mode: join() is under way (a signal then aborts it; see onSignal). */
  let l2Joining = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled !== null) {
      log.warn(`second ${sig}: exiting at once`);
      process.exit(130);
    }
    signalled = sig;
    // A start-up still retrying ends. L2 mode: only while join() runs; after it, the clean stop
    // (l2.close()) deletes this host's key through that client, so the others drop it at once.
    if (running === null && (backend.b instanceof EtcdNetwork || (backend.b instanceof EtcdL2Network && l2Joining))) backend.b.abort();
    wake();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // SIGUSR1 logs the counters; installed now, because its default action would kill a daemon still starting.
  let logStats: () => void = () => { log.info('stats: not up yet'); };
  const onUsr1 = (): void => logStats();
  process.on('SIGUSR1', onUsr1);

  let fail: (e: Error) => void = () => undefined;
  const failed = { promise: new Promise<Error>((resolve) => { fail = resolve; }), fail: (e: Error) => fail(e) };
  const notifier = new Notifier(log);
  notifier.status('starting');
  // The health listener comes first: a probe gets "not ready, and why" during start-up too.
  const health = new Health();
  let running: RunningNode | null = null;
  let statsCache: { at: number; stats: Record<string, unknown> } | null = null;
  const httpServer = opts.healthz !== undefined && opts.healthz.port > 0
    ? await HealthServer.start({
      ip: opts.healthz.ip, port: opts.healthz.port, health,
      metrics: createMetrics({
        health,
        counters: () => running?.sw.counters.snapshot() ?? null,
        // One scrape reads the node's stats many times: taken once per 100 ms.
        stats: () => {
          if (running === null) return null;
          if (statsCache === null || Date.now() - statsCache.at > 100) statsCache = { at: Date.now(), stats: running.stats() };
          return statsCache.stats;
        },
        tables: () => (running === null ? null : {
          fdb: running.sw.fdb.size, arp: running.sw.arp.size, peers: running.installer.peers.length,
          ...(running.vteps !== undefined ? { floodList: running.vteps().length } : {}),
        }),
        control: () => health.control?.() ?? null,
      }),
    }).catch((err: unknown) => { health.close(); throw err; })
    : null;
  if (httpServer !== null) log.info({ healthz: httpServer.address }, `serving /healthz, /readyz and /metrics on ${httpServer.address.ip}:${httpServer.address.port}`);
  let kernel: KernelNet;
  try {
    kernel = KernelNet.open();
  } catch (err) {
    // Nothing else is open yet but the health listener, which would keep the process alive.
    await httpServer?.close();
    health.close();
    throw err;
  }
  try {
    const choice = opts.underlay ?? {};
    if (describeChoice(choice) === 'the default route') log.info('Determining IP address of default interface');
    else log.info(`Searching for the underlay interface: ${describeChoice(choice)}`);
    const underlay = publicIp6 !== null ? await pickUnderlay6(kernel, choice, publicIp6) : await pickUnderlay(kernel, choice);
    log.info({ iface: underlay.name, ip: underlay.ip }, `Using interface with name ${underlay.name} and address ${underlay.ip}`);
    const publicIp = publicIp6 ?? opts.publicIp ?? (backend.b instanceof StaticNetwork ? backend.b.publicIp : undefined) ?? underlay.ip;
    if (publicIp !== underlay.ip) log.info({ publicIp }, `Using ${publicIp} as external address`);
    log.info({ from: backend.b.describe }, `network configuration from ${backend.b.describe}`);

    // The VTEP MAC is derived from the public IP, so it stays the same across
    // restarts: peers' FDB and ARP entries stay right while we restart.
    const join = { publicIp, vtepMac: macFromIp(publicIp), log, onFatal: failed.fail, ...(opts.publicIpv6 !== undefined ? { publicIpv6: opts.publicIpv6 } : {}) };
    let node: RunningNode;
    let info: DaemonInfo;
    let reloadNet: () => void;
    let upText: string;
    if (backend.l2) {
      l2Joining = true;
      const l2 = await backend.b.join(join).finally(() => { l2Joining = false; });
      if (signalled !== null) { await l2.close(); return; }
      health.control = () => l2.status();
      node = await startL2Node(l2, underlay, publicIp, kernel, {
        ...opts, ...(opts.l2 ?? { ageingSeconds: DEFAULT_FDB_AGEING_SECONDS, fdbMax: DEFAULT_FDB_MAX, arpSuppress: true }),
        acceptUnknownVteps: opts.acceptUnknownVteps === true,
      }, log, failed);
      info = { vni: l2.vni, port: l2.port, subnet: '-', publicIp, vtepMac: l2.vtepMac, io: node.io };
      reloadNet = () => l2.reload();
      const vteps = node.vteps?.().length ?? 0;
      upText = `L2 mode, VNI ${l2.vni}, ${vteps} VTEP(s) in the flood list`;
    } else {
      const hostNet = await backend.b.join(join);
      if (signalled !== null) { await hostNet.close(); return; }
      health.control = () => hostNet.status();
      node = await startNode(hostNet, underlay, publicIp, kernel, opts, log, failed);
      info = { vni: hostNet.vni, port: hostNet.port, subnet: hostNet.subnet, publicIp, vtepMac: hostNet.vtepMac, io: node.io };
      reloadNet = () => hostNet.reload();
      upText = `subnet ${hostNet.subnet}, ${node.installer.peers.length} peer(s)`;
    }
    // startNode returns with the TAP up and the peers' snapshot applied.
    running = node;
    health.tapUp = true;
    health.peersSynced = true;
    // The control socket (vxtap fdb|arp|peers|stats). A live daemon on its path stops this one.
    const control = await ControlServer.start({
      node, log, ...(opts.controlSocket !== undefined ? { path: opts.controlSocket } : {}), info,
    }).catch(async (err: unknown) => { await node.stop(); throw err; });
    // "Up" means forwarding, peers installed, and inspectable: tests and the lab wait for this line.
    log.info({ mode, peers: node.installer.peers.length, ...(node.vteps !== undefined ? { floodList: node.vteps().length } : { subnet: info.subnet }) }, `vxtap is up: ${upText}`);

    notifier.ready(`up: ${upText}`);
    logStats = () => { log.info({ stats: node.stats() }, statsMessage(node.sw.counters.snapshot())); };
    const reload = (): void => { reloadNet(); };
    process.on('SIGHUP', reload);
    const failure = await new Promise<Error | null>((resolve) => {
      wake = () => resolve(null);
      if (signalled !== null) resolve(null);
      void failed.promise.then(resolve);
    });
    notifier.stopping();
    if (signalled !== null) log.info(`${signalled}: ${mode === 'l2' ? 'leaving the segment' : 'removing routes'} and closing ${node.tapName}`);
    logStats();
    await control.close();
    await node.stop();
    process.removeListener('SIGHUP', reload);
    if (failure !== null) throw failure;
  } catch (err) {
    if (signalled !== null && !(err instanceof ConfigError)) {
      log.info(`${signalled} during start-up: stopped`);
      return;
    }
    throw err;
  } finally {
    running = null;
    await httpServer?.close();
    health.close();
    kernel.close();
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGUSR1', onUsr1);
  }
}
