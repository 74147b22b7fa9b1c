/**
 * An L2-mode node (`vxtap run --mode l2`): a classic VXLAN switch port, the
 * way a kernel vxlan device in a bridge is one.
 *
 *   1. port      open the TAP; MAC = VTEP MAC, MTU = underlay MTU - 50, no
 *                address, up, a port of --bridge when named (over rtnetlink);
 *   2. ports     the UDP port (as in routed mode, ports.ts), with the pcap
 *                recorder when asked;
 *   3. switch    the L2 pipeline: learning, head-end replication to the flood
 *                list, ARP suppression; started before the flood list exists;
 *   4. VTEPs     the control plane's snapshot, then every batch, into the
 *                flood list and the pinned MACs (control/vtep-installer.ts);
 *   5. ageing    a timer ages learned MACs and ARP entries out once a second.
 * There are no routes, no subnet and no lease: the TAP's addresses, if any,
 * are the user's (or the bridge's).
 */
import { nodeExplainer } from '../control/api/explain';
import type { Logger } from 'pino';
import type { KernelNet, Underlay } from '../control/kernel';
import { vtepMtu } from '../control/kernel';
import type { L2Network } from '../control/l2-network';
import { VtepInstaller } from '../control/vtep-installer';
import { Switch } from '../switch/switch';
import { formatVtep, vtepKey } from '../io/vtep-key';
import { isIpv6 } from '../control/ip6';
import { ConfigError } from '../errors';
import type { NodeOptions, RunningNode } from './node';
import { Cleanups, nodeTracer, openNodePorts, openTap, portStats } from './ports';

export interface L2NodeOptions extends NodeOptions {
  bridge?: string | undefined;
  /** A learned MAC (and a snooped ARP entry) is forgotten after this long without traffic. */
  ageingSeconds: number;
  fdbMax: number;
  arpSuppress: boolean;
  acceptUnknownVteps: boolean;
}

/** How often learned entries are aged: the kernel's bridge runs its GC about as often. */
const AGEING_TICK_MS = 1000;

export async function startL2Node(l2: L2Network, underlay: Underlay, publicIp: string, kernel: KernelNet, opts: L2NodeOptions, log: Logger,
  failed: { promise: Promise<Error>; fail: (e: Error) => void }): Promise<RunningNode> {
  const cleanups = new Cleanups(log);
  const undo = (): Promise<void> => cleanups.undo();
  cleanups.push(() => l2.close());
  try {
    // An IPv6 underlay (issue #13): 70 bytes of overhead, not 50.
    const ipv6 = isIpv6(publicIp);
    if (ipv6 && opts.io === 'dgram') throw new ConfigError(`--io dgram: Node's sockets are not wired for an IPv6 underlay yet; use --io batch`, 'io');
    if (ipv6 && opts.pcapUnderlay === true) throw new ConfigError(`--pcap-underlay: the AF_PACKET capture filters IPv4 UDP; over an IPv6 underlay use --pcap alone (rebuilt packets)`, 'pcap-underlay');
    const mtu = vtepMtu(underlay.mtu, ipv6);
    const offload = opts.offload !== false;
    const rawTap = openTap(opts.tap ?? `vxtap.${l2.vni}`, offload, log);
    cleanups.push(() => rawTap.close());
    await kernel.setupL2Port({ tap: rawTap.name, mac: l2.vtepMac, underlayMtu: underlay.mtu, bridge: opts.bridge, ipv6Underlay: ipv6 });
    log.info({ tap: rawTap.name, vtepMac: l2.vtepMac, vni: l2.vni, port: l2.port, io: opts.io, bridge: opts.bridge ?? null, mtu },
      `L2 port ${rawTap.name}: MAC ${l2.vtepMac}, MTU ${mtu}, no address${opts.bridge !== undefined ? `, a port of bridge ${opts.bridge}` : ''}; VNI ${l2.vni}, UDP port ${l2.port}, io ${opts.io}`);

    const { rawNet, io, tap, net } = await openNodePorts(rawTap, { io: opts.io, port: l2.port, publicIp, sockBuf: opts.sockBuf, offload, pcap: opts.pcap, pcapUnderlay: opts.pcapUnderlay === true, underlayName: underlay.name }, log, cleanups, failed.fail);

    let installerRef: VtepInstaller | null = null;
    // Over IPv6 the encap trace leaves out the outer headers the kernel will send (switch/trace-outer.ts knows IPv4's only); the decap trace rebuilds IPv6.
    const tracer = nodeTracer(opts.trace, { vni: l2.vni, port: l2.port, publicIp, ...(ipv6 ? {} : { net: rawNet }) },
      (ip) => (installerRef?.vteps.some((v) => vtepKey(v.publicIp) === ip) === true ? `VTEP ${formatVtep(ip)} (flood list)` : null), log);
    const sw = new Switch({
      vni: l2.vni, tap, net, mtu, batchSize: opts.batchSize, tracer,
      mode: 'l2',
      l2: { port: l2.port, fdbMax: opts.fdbMax, ageingMs: opts.ageingSeconds * 1000, arpSuppress: opts.arpSuppress },
      acceptUnknownVteps: opts.acceptUnknownVteps,
    });
    const installer = new VtepInstaller(sw, log);
    installerRef = installer;
    sw.start();

    const ageing = setInterval(() => { sw.ageOut(Date.now()); }, AGEING_TICK_MS);
    ageing.unref();
    cleanups.push(() => clearInterval(ageing));

    installer.apply((await l2.source.snapshot()).map((vtep) => ({ type: 'added' as const, vtep })));
    l2.source.watch((batch) => installer.apply(batch));

    let stopping: Promise<void> | null = null;
    return {
      mode: 'l2',
      sw,
      installer: { peers: [], failed: installer.failed, routeConflicts: 0 },
      vteps: () => installer.vteps,
      ...(sw.l2Arp !== null ? { l2Arp: () => sw.l2Arp!.list() } : {}),
      explain: nodeExplainer(sw.pipeline, {
        mode: 'l2', vni: l2.vni, port: l2.port, publicIp, vtepMac: l2.vtepMac,
        subnet: () => null, peers: () => [], vteps: () => installer.vteps, etcd: l2.etcd,
        ...(sw.l2Arp !== null ? { l2Arp: () => sw.l2Arp!.list() } : {}),
      }, (ip) => (installer.vteps.some((v) => vtepKey(v.publicIp) === ip) ? `VTEP ${formatVtep(ip)} (flood list)` : null)),
      tapName: rawTap.name,
      io,
      failed: failed.promise,
      stats: () => ({
        ...sw.counters.snapshot(),
        ...portStats(rawTap, rawNet),
        fdb: [...sw.fdb.entries()].map((e) => sw.fdb.describe(e)),
        floodList: installer.vteps.map((v) => ({ publicIp: v.publicIp, port: v.port })),
        arp: sw.arp.list(),
      }),
      stop: () => {
        stopping ??= (async () => {
          await l2.source.close();
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
