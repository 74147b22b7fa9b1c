/**
 * `vxtap run`: bring a host up as flannel's vxlan backend would, but with a
 * TAP and this process as the VTEP.
 *
 *   1. underlay   the interface (default: the one with the default route),
 *                 its IPv4 address (the public IP) and its MTU;
 *   2. config     the peers file: VNI, port, this host's subnet, the peers;
 *   3. VTEP       open the TAP; MAC = VTEP MAC, MTU = underlay MTU - 50,
 *                 address <subnet>.0/32, up (all over rtnetlink);
 *   4. switch     the UDP port (batch: recvmmsg + raw sendmmsg; dgram: Node's
 *                 dgram) and the pipeline, started before any route exists;
 *   5. peers      the snapshot, then every batch of events: ARP, FDB, route.
 * On SIGTERM/SIGINT: remove the routes, close the TAP and sockets, exit 0.
 * A second signal exits at once. SIGUSR1 logs the counters.
 */
import type { Logger } from 'pino';
import { ConfigError } from '../errors';
import { KernelNet, vtepMtu } from '../control/kernel';
import { PeerInstaller } from '../control/installer';
import { macFromIp } from '../control/peers';
import { StaticPeerSource } from '../control/static-peers';
import { TapPort } from '../io/tap';
import { BatchUdpPort } from '../io/udp-batch';
import { DgramUdpPort } from '../io/udp-dgram';
import type { DatagramPort } from '../io/port';
import { Switch } from '../switch/switch';
import { isIpv4, isMac, parseCidr } from '../wire/addr';

export type IoMode = 'batch' | 'dgram';
export const IO_MODES: readonly IoMode[] = ['batch', 'dgram'];

export interface RunOptions {
  peers: string;
  iface?: string;
  publicIp?: string;
  tap?: string;
  io: IoMode;
  batchSize: number;
  /** Socket buffer size in bytes for the batch UDP port. */
  sockBuf: number;
}

/** A running node, for tests and for the signal handlers. */
export interface RunningNode {
  readonly sw: Switch;
  readonly installer: PeerInstaller;
  readonly tapName: string;
  /** Re-reads the peers file now and applies the difference. */
  reload(): void;
  /** Settles with the error when a port fails for good (the node can no longer forward). */
  readonly failed: Promise<Error>;
  /** Counters of the switch and of both ports, for logs and `stats`. */
  stats(): Record<string, unknown>;
  stop(): Promise<void>;
}

export function parseIoMode(v: string): IoMode {
  if (!(IO_MODES as readonly string[]).includes(v)) {
    throw new ConfigError(`--io: must be one of ${IO_MODES.join(', ')}, got ${JSON.stringify(v)}`, 'io');
  }
  return v as IoMode;
}

export async function startNode(opts: RunOptions, log: Logger): Promise<RunningNode> {
  if (opts.publicIp !== undefined && !isIpv4(opts.publicIp)) {
    throw new ConfigError(`--public-ip: not an IPv4 address: ${JSON.stringify(opts.publicIp)}`, 'public-ip');
  }
  const source = new StaticPeerSource(opts.peers, {
    onError: (err: Error) => log.error({ err }, `peers file ${opts.peers} is not usable; keeping the last good state`),
  });
  const cfg = source.config;
  const kernel = KernelNet.open();
  const cleanups: (() => Promise<void> | void)[] = [() => kernel.close()];
  const undo = async (): Promise<void> => {
    for (const f of cleanups.reverse()) {
      try { await f(); } catch (err) { log.warn({ err }, 'clean-up step failed'); }
    }
  };
  try {
    if (opts.iface === undefined) log.info('Determining IP address of default interface');
    const underlay = await kernel.underlay(opts.iface);
    const publicIp = opts.publicIp ?? cfg.self.publicIp ?? underlay.ip;
    log.info({ iface: underlay.name, ip: underlay.ip }, `Using interface with name ${underlay.name} and address ${underlay.ip}`);
    if (publicIp !== underlay.ip) log.info({ publicIp }, `Using ${publicIp} as external address`);
    const subnet = parseCidr(cfg.self.subnet);
    log.info({ subnet: cfg.self.subnet }, `using subnet: ${cfg.self.subnet.split('/')[0]}, net mask: ${subnet.len} (from ${opts.peers})`);
    const mtu = vtepMtu(underlay.mtu);
    log.info({ mtu }, `MTU: ${mtu}`);

    const tap = TapPort.open(opts.tap ?? `vxtap.${cfg.vni}`);
    cleanups.push(() => tap.close());
    const vtepMac = cfg.self.vtepMac ?? macFromIp(publicIp);
    if (!isMac(vtepMac)) throw new ConfigError(`self.vtepMac: not a MAC address: ${JSON.stringify(vtepMac)}`, 'self.vtepMac');
    await kernel.setupVtep({ tap: tap.name, subnet: cfg.self.subnet, mac: vtepMac, underlayMtu: underlay.mtu });
    log.info({ tap: tap.name, vtepMac, vni: cfg.vni, port: cfg.port, io: opts.io },
      `VTEP ${tap.name}: VtepMAC ${vtepMac}, address ${cfg.self.subnet.split('/')[0]}/32, VNI ${cfg.vni}, UDP port ${cfg.port}, io ${opts.io}`);

    const net: DatagramPort = opts.io === 'batch'
      ? BatchUdpPort.open({ bindIp: '0.0.0.0', port: cfg.port, srcIp: publicIp, rcvbuf: opts.sockBuf, sndbuf: opts.sockBuf })
      : await DgramUdpPort.open({ bindIp: '0.0.0.0', port: cfg.port });
    cleanups.push(() => net.close());
    let fail: (err: Error) => void = () => undefined;
    const failed = new Promise<Error>((resolve) => { fail = resolve; });
    const portError = (port: string) => (err: Error, fatal: boolean): void => {
      if (fatal) {
        log.error({ err, port }, `${port}: ${err.message}: it no longer reads; stopping`);
        fail(err);
      } else {
        log.warn({ err, port }, `${port}: ${err.message}`);
      }
    };
    tap.onError = portError(`TAP ${tap.name}`);
    net.onError = portError(`UDP port ${cfg.port}`);
    const sw = new Switch({ vni: cfg.vni, tap, net, mtu, batchSize: opts.batchSize });
    sw.start();

    const installer = new PeerInstaller({ sw, routes: kernel, dev: tap.name, port: cfg.port, log });
    cleanups.push(() => source.close());
    await installer.apply((await source.snapshot()).map((peer) => ({ type: 'added' as const, peer })));
    source.watch((batch) => { void installer.apply(batch); });
    log.info({ peers: installer.peers.length }, `vxtap is up: ${installer.peers.length} peer(s)`);

    let stopping: Promise<void> | null = null;
    return {
      sw,
      installer,
      tapName: tap.name,
      reload: () => { source.reload(); },
      failed,
      stats: () => ({
        ...sw.counters.snapshot(),
        tapPort: { ...tap.stats },
        udpPort: { ...net.stats },
        // The tables too, until the control socket serves them (`vxtap fdb`, `vxtap arp`).
        fdb: [...sw.fdb.entries()].map((e) => sw.fdb.describe(e)),
        arp: sw.arp.list(),
        peers: installer.peers,
      }),
      stop: () => {
        stopping ??= (async () => {
          await source.close();
          await installer.removeAllRoutes();
          await undo();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await undo();
    throw err;
  }
}

/** Runs until SIGTERM/SIGINT. Resolves after a clean stop. */
export async function runCommand(opts: RunOptions, log: Logger): Promise<void> {
  const node = await startNode(opts, log);
  // SIGHUP: re-read the peers file now (it is also watched for changes).
  process.on('SIGHUP', () => { node.reload(); });
  const logStats = (): void => { log.info({ stats: node.stats() }, 'stats'); };
  process.on('SIGUSR1', logStats);
  let failure: Error | null = null;
  await new Promise<void>((resolve) => {
    void node.failed.then((err) => {
      failure = err;
      logStats();
      node.stop().then(resolve, resolve);
    });
    let signalled = false;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (signalled) {
        log.warn(`second ${sig}: exiting at once`);
        process.exit(130);
      }
      signalled = true;
      log.info(`${sig}: removing routes and closing ${node.tapName}`);
      logStats();
      node.stop().then(resolve, (err: unknown) => { log.error({ err }, 'stop failed'); resolve(); });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  process.removeListener('SIGUSR1', logStats);
  if (failure !== null) throw failure;
}
