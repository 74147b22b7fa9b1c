/**
 * A node: the data plane brought up from a HostNetwork (whatever control
 * plane gave it), the way flannel's vxlan backend brings up flannel.<VNI>:
 *
 *   1. VTEP     open the TAP; MAC = VTEP MAC, MTU = underlay MTU - 50,
 *               address <subnet>.0/32, up (over rtnetlink); with an IPv6
 *               subnet (the IPv6 overlay), also <subnet6>::/128, and the
 *               switch answers ND;
 *   2. ports    the UDP port (batch: recvmmsg + raw sendmmsg; dgram: Node's
 *               dgram), wrapped by the pcap recorder when asked;
 *   3. switch   the pipeline (with the trace edge when asked), started before any
 *               route exists, so the first ARP is answered;
 *   4. peers    the snapshot, then every batch, through the lease guard (only
 *               leases that pass lease-rules.ts), then ARP, FDB, route per host;
 *   5. files    the subnet file, when the network is known (etcd).
 * Should the lease move to another subnet (its key taken over), the VTEP's
 * address, the guard and the subnet file follow it (moveTo).
 */
import type { Logger } from 'pino';
import { KernelNet, RTPROT_VXTAP, vtepAddress, vtepAddress6, vtepMtu, type Underlay } from '../control/kernel';
import { PeerInstaller } from '../control/installer';
import { readHostView } from '../control/host-view';
import { GuardedPeerSource } from '../control/lease-guard';
import { selfOf } from '../control/lease-rules';
import type { HostNetwork, SubnetMove } from '../control/network';
import type { Peer } from '../control/peers';
import type { Vtep } from '../control/l2-network';
import { dockerOpts, writeSubnetFile } from '../control/etcd/subnet-file';
import { Cleanups, nodeTracer, openNodePorts, openTap, portStats, type IoMode } from './ports';
import type { TraceFormat } from '../switch/trace';
import { Switch } from '../switch/switch';
import { nodeExplainer, type ExplainData, type ExplainRequest } from '../control/api/explain';
import { cidrContains, parseCidr, parseIpv4 } from '../wire/addr';

export type { IoMode } from './ports';

export interface NodeOptions {
  /** --public-ipv6: this host's IPv6 underlay address, which the lease rules must not accept as a peer's. */
  publicIpv6?: string;
  tap?: string;
  io: IoMode;
  batchSize: number;
  sockBuf: number;
  /** Write flannel's subnet file here (when the network is known). */
  subnetFile?: string;
  ipMasq: boolean;
  trace?: { format: TraceFormat; filter: string | null };
  pcap?: string;
  /** With pcap: record the real underlay frames (an AF_PACKET capture, io/packet-capture.ts) instead of rebuilt ones. */
  pcapUnderlay?: boolean;
  /**
   * Offloads (default on): TAP TSO4 + checksum with write coalescing
   * (io/tap.ts), UDP GSO + GRO (io/udp-batch.ts). Each is probed; a refused
   * one falls back and is logged once. false: none.
   */
  offload?: boolean;
  /**
   * The inner source check (switch/peer-table.ts; default on): a peer's
   * frames must come from its VTEP MAC and, for IPv4 and ARP, its subnet.
   */
  innerSourceCheck?: boolean;
}

/** What the control API and the metrics read of the peers: the routed installer, or an L2 node's view (no leases, no routes). */
export interface InstallerView {
  readonly peers: readonly Peer[];
  readonly failed: ReadonlyMap<string, string>;
  readonly routeConflicts: number;
}

export interface RunningNode {
  /** routed (flannel's scheme) or l2 (a VXLAN switch). */
  readonly mode: 'routed' | 'l2';
  readonly sw: Switch;
  readonly installer: InstallerView;
  /** L2 mode: the flood list as installed. */
  readonly vteps?: () => readonly Vtep[];
  /** L2 mode: the ARP suppression table (absent with --no-arp-suppress). */
  readonly l2Arp?: () => readonly { ip: string; mac: string; kind: 'static' | 'learned'; updatedAt: number }[];
  readonly tapName: string;
  /** The UDP path it runs: what --io asked, or dgram when batch could not open (no CAP_NET_RAW). */
  readonly io: IoMode;
  /** Settles with the error when the node can no longer forward (a port failed for good, the lease moved). */
  readonly failed: Promise<Error>;
  /** `vxtap explain`: a made-up frame through the pipeline in a dry run. */
  readonly explain?: (req: ExplainRequest) => Promise<ExplainData>;
  /** Counters of the switch and of both ports, and the tables, for logs and `stats`. */
  stats(): Record<string, unknown>;
  /** Removes the routes, closes the ports and the TAP, and the control plane's watch (the lease stays). */
  stop(): Promise<void>;
}

export async function startNode(hostNet: HostNetwork, underlay: Underlay, publicIp: string, kernel: KernelNet, opts: NodeOptions, log: Logger, failed: { promise: Promise<Error>; fail: (e: Error) => void }): Promise<RunningNode> {
  const cleanups = new Cleanups(log);
  const undo = (): Promise<void> => cleanups.undo();
  // The control plane's watch and lease keeper go last, whatever fails.
  cleanups.push(() => hostNet.close());
  try {
    const mtu = vtepMtu(underlay.mtu);
    log.info({ mtu }, `MTU: ${mtu}`);
    const offload = opts.offload !== false;
    const rawTap = openTap(opts.tap ?? `vxtap.${hostNet.vni}`, offload, log);
    cleanups.push(() => rawTap.close());
    const stale = await kernel.setupVtep({ tap: rawTap.name, subnet: hostNet.subnet, mac: hostNet.vtepMac, underlayMtu: underlay.mtu });
    if (stale > 0) log.info({ stale }, `removed ${stale} route(s) of an earlier run from ${rawTap.name} (protocol ${RTPROT_VXTAP}); the peers' routes are added again from the control plane`);
    const subnet6 = hostNet.subnet6;
    if (subnet6 !== undefined) {
      const stale6 = await kernel.setupVtep6(rawTap.name, subnet6);
      if (stale6 > 0) log.info({ stale: stale6 }, `removed ${stale6} IPv6 route(s) of an earlier run from ${rawTap.name} (protocol ${RTPROT_VXTAP})`);
      log.info({ tap: rawTap.name, subnet6 }, `IPv6 overlay: ${rawTap.name} has ${vtepAddress6(subnet6)}; Neighbor Solicitations for the peers' <subnet6>:: are answered locally`);
    }
    log.info({ tap: rawTap.name, vtepMac: hostNet.vtepMac, vni: hostNet.vni, port: hostNet.port, io: opts.io },
      `VTEP ${rawTap.name}: VtepMAC ${hostNet.vtepMac}, address ${hostNet.subnet.split('/')[0]}/32, VNI ${hostNet.vni}, UDP port ${hostNet.port}, io ${opts.io}`);

    const { rawNet, io, tap, net } = await openNodePorts(rawTap, { io: opts.io, port: hostNet.port, publicIp, sockBuf: opts.sockBuf, offload, pcap: opts.pcap, pcapUnderlay: opts.pcapUnderlay === true, underlayName: underlay.name }, log, cleanups, failed.fail);

    // The tracer names the peer behind an address; peers live in the installer, made after the switch.
    let installerRef: PeerInstaller | null = null;
    const tracer = nodeTracer(opts.trace, { vni: hostNet.vni, port: hostNet.port, publicIp, net: rawNet },
      (ip) => (installerRef === null ? null : describePeer(installerRef, ip)), log);
    const sw = new Switch({ vni: hostNet.vni, tap, net, mtu, batchSize: opts.batchSize, tracer, innerSourceCheck: opts.innerSourceCheck !== false, ipv6: subnet6 !== undefined });
    // The offload negotiation's "no", once: with offloads asked for, say why super-frames are cut in the TAP reader.
    if (offload && !sw.wholeSuperFrames.whole) {
      log.info({ wholeSuperFrames: sw.wholeSuperFrames }, `TCP super-frames are cut in the TAP reader, not kept whole to the send: ${sw.wholeSuperFrames.reason}`);
    }
    const installer = new PeerInstaller({ sw, routes: kernel, dev: rawTap.name, port: hostNet.port, log });
    installerRef = installer;
    sw.start();

    let subnet = hostNet.subnet;
    const source = new GuardedPeerSource(hostNet.source, {
      self: selfOf(subnet, publicIp, hostNet.vtepMac, { subnet6: hostNet.subnet6 ?? null, publicIpv6: opts.publicIpv6 ?? null }),
      shape: hostNet.shape,
      hostView: () => readHostView(kernel, rawTap.name),
      onRefused: (p, r) => log.warn({ subnet: p.subnet, publicIp: p.publicIp, vtepMac: p.vtepMac, reason: r.reason },
        `refusing lease ${p.subnet} (PublicIP ${p.publicIp}, VtepMAC ${p.vtepMac}): ${r.detail}`),
      onAccepted: (p, was) => log.info({ subnet: p.subnet, was: was.reason }, `lease ${p.subnet} is acceptable now (it was refused: ${was.detail})`),
      onHostViewError: (err) => log.warn({ err }, `reading this host's addresses and routes failed: ${err.message}; checking leases against the last view`),
    });
    await installer.apply((await source.snapshot()).map((peer) => ({ type: 'added' as const, peer })));
    source.watch((batch) => { void installer.apply(batch); });

    const writeFiles = (): void => {
      if (hostNet.network === null || opts.subnetFile === undefined) return;
      writeSubnetFile(opts.subnetFile, { network: hostNet.network, subnet, mtu, ipMasq: opts.ipMasq, ...(hostNet.subnet6 !== undefined && hostNet.network6 !== undefined ? { network6: hostNet.network6, subnet6: hostNet.subnet6 } : {}) });
      log.info({ subnetFile: opts.subnetFile }, `wrote ${opts.subnetFile}; a Docker host runs: dockerd ${dockerOpts(subnet, mtu)}`);
    };
    writeFiles();

    // The lease moved (its key was taken over): the VTEP's address, the guard and the subnet file follow.
    hostNet.onSubnetMoved = async (move: SubnetMove): Promise<void> => {
      // The move names the new IPv4 subnet only; the IPv6 half is judged again when the new lease is read.
      await source.setSelf(selfOf(move.to, publicIp, hostNet.vtepMac, { publicIpv6: opts.publicIpv6 ?? null }));
      await kernel.replaceAddress(rawTap.name, vtepAddress(move.to));
      try {
        await kernel.deleteAddress(rawTap.name, vtepAddress(move.from));
      } catch (err) {
        log.warn({ err }, `removing ${vtepAddress(move.from)} from ${rawTap.name} failed: ${(err as Error).message}`);
      }
      subnet = move.to;
      writeFiles();
    };

    let stopping: Promise<void> | null = null;
    return {
      mode: 'routed',
      sw,
      installer,
      explain: nodeExplainer(sw.pipeline, {
        mode: 'routed', vni: hostNet.vni, port: hostNet.port, publicIp, vtepMac: hostNet.vtepMac,
        subnet: () => subnet, peers: () => installer.peers, etcd: hostNet.etcd,
      }, (ip) => describePeer(installer, ip)),
      tapName: rawTap.name,
      io,
      failed: failed.promise,
      stats: () => ({
        ...sw.counters.snapshot(),
        ...portStats(rawTap, rawNet),
        // The tables too, so that one SIGUSR1 log line holds the whole state (`vxtap stats` serves them too).
        fdb: [...sw.fdb.entries()].map((e) => sw.fdb.describe(e)),
        arp: sw.arp.list(),
        ...(sw.nd !== null ? { nd: sw.nd.list() } : {}),
        peers: installer.peers,
        leases: { refusals: { ...source.refusals }, refused: source.refused.map((r) => ({ subnet: r.peer.subnet, publicIp: r.peer.publicIp, vtepMac: r.peer.vtepMac, reason: r.reason, detail: r.detail })) },
        subnet,
      }),
      stop: () => {
        stopping ??= (async () => {
          hostNet.onSubnetMoved = null;
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

/** For the trace: "lease 10.44.2.0/24, host 192.168.90.2" for an overlay address or a VTEP address. */
function describePeer(installer: PeerInstaller, ip: number): string | null {
  for (const p of installer.peers) {
    if (cidrContains(parseCidr(p.subnet), ip) || parseIpv4(p.publicIp) === ip) return `lease ${p.subnet}, host ${p.publicIp}`;
  }
  return null;
}
