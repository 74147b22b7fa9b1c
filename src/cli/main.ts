/**
 * The `vxtap` command line (commander). Each command lives in its own module;
 * this file declares flags and turns failures into a message and an exit
 * code: a bad flag or config names the problem and exits 2, a failure at
 * start-up exits 1.
 */
import { Command, Option } from 'commander';
import { intIn, wrapParse } from './arg-parsers';
import { ConfigError, VxtapError } from '../errors';
import { makeLogger, parseLogFormat, parseLogLevel, type LogFormat } from './log';
import { DEFAULT_FDB_AGEING_SECONDS, DEFAULT_FDB_MAX, parseHealthzIp, parseIoMode, parseMode, runCommand, type ForwardingMode, type IoMode } from './run';
import { addEtcdFlags, etcdClientOptions, type EtcdFlags } from './etcd-flags';
import { leases, networkInit, networkShow, type InitFlags } from './network-cmd';
import { registerInspectCommands } from './inspect-cmd';
import { registerExplainCommand } from './explain-cmd';
import { DEFAULT_BATCH } from '../switch/switch';
import { parseTraceFormat, type TraceFormat } from '../switch/trace';
import { parseTraceFilter } from '../switch/trace-filter';
import { DEFAULT_SUBNET_FILE } from '../control/etcd/subnet-file';
import { DEFAULT_LEASE_TTL_SECONDS } from '../control/etcd/registry';
import { DEFAULT_RENEW_MARGIN_SECONDS } from '../control/etcd/lease-keeper';
import { registerLabCommands } from '../lab/commands';
import { registerBenchCommand } from './bench-cmd';
import { bindEnv } from './env-flags';

const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;
/** Errors the command's logger has reported already: main() does not print them again. */
const logged = new WeakSet<object>();

interface RunFlags extends EtcdFlags {
  mode: ForwardingMode;
  bridge?: string;
  fdbAgeing: number;
  fdbMax: number;
  arpSuppress?: boolean;
  acceptUnknownVteps?: boolean;
  vni?: number;
  port?: number;
  peers?: string;
  iface?: string[];
  ifaceRegex?: string[];
  ifaceCanReach?: string;
  publicIp?: string;
  publicIpv6?: string;
  tap?: string;
  io: IoMode;
  batchSize: number;
  sockBuf: number;
  subnetFile: string;
  subnetLeaseTtl: number;
  subnetLeaseRenewMargin: number;
  ipMasq?: boolean;
  trace?: boolean;
  traceFormat: TraceFormat;
  traceFilter?: string;
  pcap?: string;
  pcapUnderlay?: boolean;
  offload?: boolean;
  innerSourceCheck?: boolean;
  controlSocket?: string;
  healthzIp: string;
  healthzPort: number;
  logFormat: LogFormat;
  logLevel: string;
  verbose?: boolean;
}

/** The flags given on the command line or from the environment (not defaults): run checks them against --mode. */
function explicitRunFlags(cmd: Command): Set<string> {
  const given = new Set<string>();
  for (const opt of cmd.options) {
    const key = opt.attributeName();
    const src = cmd.getOptionValueSource(key);
    if (src !== 'cli' && src !== 'env') continue;
    // --x and --no-x share one value: name the one that set it.
    const value: unknown = cmd.getOptionValue(key);
    if (opt.negate ? value === false : value !== false || !cmd.options.some((o) => o.negate && o.attributeName() === key)) given.add(opt.long ?? key);
  }
  return given;
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('vxtap')
    .description('A VXLAN switch (VTEP) in user space: a TAP device, a TypeScript data plane, RFC 7348 over UDP,\nflannel\'s etcd layout as control plane')
    .version(require('../../../package.json').version as string)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), ...v.split(',').map((x) => x.trim()).filter((x) => x !== '')];
  const run = program
    .command('run')
    .description('bring this host up as a VTEP (flannel\'s routed vxlan scheme, or an L2 VXLAN switch with --mode l2) and forward until SIGTERM/SIGINT')
    .addHelpText('after', `
Every flag may also come from the environment: VXTAP_<FLAG> (--etcd-endpoints: VXTAP_ETCD_ENDPOINTS),
and flannel's flags from FLANNELD_<FLAG> too (FLANNELD_IFACE=eth0,eth1). The command line wins.

Examples:
  vxtap run                                            # etcd on 127.0.0.1:2379, the default route's interface
  vxtap run --etcd-endpoints https://10.0.0.5:2379 --etcd-cafile ca.pem --iface eth1 --iface 10.1.2.3
  vxtap run --peers peers.json --healthz-port 8285     # a static peers file; /healthz, /readyz, /metrics
  vxtap run --peers peers.json --trace --trace-filter icmp   # explain every ping
  vxtap run --mode l2 --peers l2.json --bridge br0     # a classic VXLAN switch port in bridge br0 (flood and learn)`)
    .optionsGroup('Mode:')
    .addOption(new Option('--mode <mode>', 'routed: flannel\'s vxlan scheme (a route, an ARP and an FDB entry per host, no flooding); l2: a VXLAN switch (learning, head-end replication to a flood list, ARP suppression)').default('routed').argParser(wrapParse(parseMode)))
    .option('--bridge <name>', 'L2 mode: make the TAP a port of this existing bridge (ip link set TAP master NAME)')
    .addOption(new Option('--fdb-ageing <seconds>', 'L2 mode: a learned MAC is forgotten after this long without traffic from it (the kernel\'s default)').default(DEFAULT_FDB_AGEING_SECONDS).argParser(intIn('--fdb-ageing', 1, 1_000_000)))
    .addOption(new Option('--fdb-max <n>', 'L2 mode: at most this many MACs in the FDB; new MACs past it are refused and counted (a MAC flood cannot eat the memory)').default(DEFAULT_FDB_MAX).argParser(intIn('--fdb-max', 1, 10_000_000)))
    .option('--arp-suppress', 'L2 mode: answer ARP requests for addresses seen behind remote VTEPs locally (the default)')
    .option('--no-arp-suppress', 'L2 mode: flood every ARP request to the VTEPs')
    .addOption(new Option('--vni <n>', 'L2 mode with etcd: the segment\'s VNI (default: Backend.VNI of <prefix>/config; an L2 peers file names its own)').argParser(intIn('--vni', 1, 0xffffff)))
    .addOption(new Option('--port <n>', 'L2 mode with etcd: the segment\'s VXLAN UDP port (default: Backend.Port of <prefix>/config)').argParser(intIn('--port', 1, 65535)))
    .option('--accept-unknown-vteps', 'accept VXLAN from VTEPs that are not peers (routed) or not on the flood list (L2), and learn from them')
    .optionsGroup('Control plane:')
    .option('--peers <file>', 'static peers file (JSON: vni, port, self.subnet, peers[]) instead of etcd')
    .addOption(new Option('--subnet-file <path>', 'flannel\'s subnet file (FLANNEL_NETWORK, FLANNEL_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ), where flannel\'s CNI plugin reads it; etcd mode').default(DEFAULT_SUBNET_FILE))
    .addOption(new Option('--subnet-lease-ttl <seconds>', 'TTL of this host\'s subnet lease').default(DEFAULT_LEASE_TTL_SECONDS).argParser(intIn('--subnet-lease-ttl', 2, 10 * 365 * 24 * 3600)))
    .addOption(new Option('--subnet-lease-renew-margin <minutes>', 'renew the lease this many minutes before it expires, as flannel (at most 2/3 of the TTL is waited)').default(DEFAULT_RENEW_MARGIN_SECONDS / 60).argParser(intIn('--subnet-lease-renew-margin', 1, 1439)))
    .option('--ip-masq', 'write FLANNEL_IPMASQ=true in the subnet file (vxtap installs no masquerade rules itself)')
    .optionsGroup('Underlay:')
    .addOption(new Option('--iface <name-or-ip>', 'underlay interface, by name or address; repeatable (or comma-separated): the first that exists wins (default: the interface of the default route)').argParser(collect))
    .addOption(new Option('--iface-regex <regex>', 'the first IPv4 address, then interface name, that matches; repeatable').argParser(collect))
    .option('--iface-can-reach <ip>', 'the interface of the route to this address')
    .option('--public-ip <ip>', 'outer source IPv4, or IPv6 in --mode l2 with --iface (default: the underlay interface\'s IPv4 address)')
    .option('--public-ipv6 <ip>', 'flannel\'s -public-ipv6: with an etcd network that enables IPv6, lease a dual-stack subnet naming this PublicIPv6 (the IPv6 overlay is carried over the IPv4 underlay)')
    .optionsGroup('Data plane:')
    .option('--tap <name>', 'TAP device name (default: vxtap.<VNI>); may be an existing persistent TAP')
    .addOption(new Option('--io <mode>', 'UDP path: batch (addon, recvmmsg/sendmmsg) or dgram (Node dgram)').default('batch').argParser(wrapParse(parseIoMode)))
    .addOption(new Option('--batch-size <n>', 'frames per batch').default(DEFAULT_BATCH).argParser(intIn('--batch-size', 1, 1024)))
    .addOption(new Option('--sock-buf <bytes>', 'UDP socket send/receive buffer').default(4 * 1024 * 1024).argParser(intIn('--sock-buf', 65536, 1 << 30)))
    .option('--offload', 'offloads, each probed at start and falling back when refused (the default): TAP TSO4 + checksum (64 KB TCPv4 super-frames, cut in the addon; received segments coalesced back), UDP GSO sends and UDP GRO receives (--io batch)')
    .option('--no-offload', 'no offloads: a plain TAP, one datagram per send')
    .option('--inner-source-check', 'a peer\'s decapsulated frames must come from its VTEP MAC and, for IPv4 and ARP, its subnet (the default)')
    .option('--no-inner-source-check', 'let a peer\'s decapsulated frames through whatever their inner source (by default a frame whose source MAC is not the sending VTEP\'s MAC, or whose IPv4 source or ARP sender is outside its subnet, is an inner-spoof drop)')
    .optionsGroup('Observing:')
    .option('--trace', 'explain every frame: layers, decision, table lookups (on stdout; logs then go to stderr)')
    .addOption(new Option('--trace-format <fmt>', 'text (colours on a terminal) or json (one object per frame)').default('text').argParser(wrapParse(parseTraceFormat)))
    .addOption(new Option('--trace-filter <filter>', 'e.g. "host 10.44.2.0,icmp", "drops", "arp|icmp", "!ipv6"').argParser(wrapParse((v) => { parseTraceFilter(v); return v; })))
    .option('--pcap <file>', 'record both sides of the switch to a pcapng file: interface 0 the TAP frames, interface 1 VXLAN in UDP in IPv4 in Ethernet (outer headers rebuilt, each packet\'s comment says what was)')
    .option('--pcap-underlay', 'with --pcap: record the real underlay frames of our UDP port, both directions (an AF_PACKET capture on the underlay interface; needs CAP_NET_RAW) instead of rebuilt ones')
    .addOption(new Option('--healthz-ip <ip>', 'the address of the health and metrics listener (flannel\'s flag)').default('0.0.0.0').argParser(wrapParse(parseHealthzIp)))
    .addOption(new Option('--healthz-port <port>', 'serve /healthz, /readyz and /metrics (Prometheus) on this port; 0: off (flannel\'s flag)').default(0).argParser(intIn('--healthz-port', 0, 65535)))
    .option('--control-socket <path>', 'the control socket for vxtap fdb|arp|peers|stats (default: /run/vxtap/<tap>.sock; /run/vxtap/netns/<netns>/<tap>.sock in a named network namespace)')
    .addOption(new Option('--log-format <fmt>', 'auto (pretty on a terminal, else JSON), json or pretty').default('auto').argParser(wrapParse(parseLogFormat)))
    .addOption(new Option('--log-level <level>', 'trace, debug, info, warn, error').default('info').argParser(wrapParse(parseLogLevel)))
    .option('-v, --verbose', 'the same as --log-level debug')
    .optionsGroup('etcd:');
  addEtcdFlags(run).action(async (o: RunFlags) => {
    // With --trace the trace owns stdout; logs go to stderr.
    const log = makeLogger(o.logFormat, o.verbose === true && o.logLevel === 'info' ? 'debug' : o.logLevel, o.trace ? 2 : 1);
    try {
      if (o.pcapUnderlay === true && o.pcap === undefined) throw new ConfigError('--pcap-underlay needs --pcap FILE: it writes the real underlay frames into that file', 'pcap-underlay');
      await runCommand({
        mode: o.mode,
        l2: {
          ...(o.bridge !== undefined ? { bridge: o.bridge } : {}),
          ageingSeconds: o.fdbAgeing,
          fdbMax: o.fdbMax,
          arpSuppress: o.arpSuppress !== false,
          ...(o.vni !== undefined ? { vni: o.vni } : {}),
          ...(o.port !== undefined ? { port: o.port } : {}),
        },
        acceptUnknownVteps: o.acceptUnknownVteps === true,
        explicit: explicitRunFlags(run),
        ...(o.peers !== undefined ? { peers: o.peers } : {}),
        underlay: {
          ...(o.iface !== undefined ? { ifaces: o.iface } : {}),
          ...(o.ifaceRegex !== undefined ? { regexes: o.ifaceRegex } : {}),
          ...(o.ifaceCanReach !== undefined ? { canReach: o.ifaceCanReach } : {}),
        },
        ...(o.publicIp !== undefined ? { publicIp: o.publicIp } : {}),
        ...(o.publicIpv6 !== undefined ? { publicIpv6: o.publicIpv6 } : {}),
        ...(o.tap !== undefined ? { tap: o.tap } : {}),
        ...(o.pcap !== undefined ? { pcap: o.pcap } : {}),
        ...(o.pcapUnderlay === true ? { pcapUnderlay: true } : {}),
        offload: o.offload !== false,
        innerSourceCheck: o.innerSourceCheck !== false,
        ...(o.controlSocket !== undefined ? { controlSocket: o.controlSocket } : {}),
        ...(o.healthzPort > 0 ? { healthz: { ip: o.healthzIp, port: o.healthzPort } } : {}),
        ...(o.trace ? { trace: { format: o.traceFormat, filter: o.traceFilter ?? null } } : {}),
        io: o.io,
        batchSize: o.batchSize,
        sockBuf: o.sockBuf,
        subnetFile: o.subnetFile,
        ipMasq: o.ipMasq === true,
        etcd: {
          client: etcdClientOptions(o),
          prefix: o.etcdPrefix,
          subnetFile: o.subnetFile,
          leaseTtlSeconds: o.subnetLeaseTtl,
          renewMarginSeconds: o.subnetLeaseRenewMargin * 60,
        },
      }, log);
    } catch (err) {
      // Our own errors are expected failures: the message and code say it all, no stack.
      if (err instanceof VxtapError) log.fatal({ code: err.code }, err.message);
      else log.fatal({ err }, (err as Error).message);
      logged.add(err as object);
      throw err;
    }
  });

  const network = program.command('network').description('the overlay network\'s config in etcd (<prefix>/config)');
  addEtcdFlags(network.command('init')
    .description('write the network config (Port is written explicitly: 4789 unless given)')
    .requiredOption('--network <cidr>', 'the overlay network, e.g. 10.44.0.0/16')
    .addOption(new Option('--subnet-len <n>', 'prefix length of each host\'s subnet (default: 24, or network + 2 when the network is smaller than /22)').argParser(intIn('--subnet-len', 1, 30)))
    .option('--subnet-min <ip>', 'lowest subnet to lease (default: the second subnet)')
    .option('--subnet-max <ip>', 'highest subnet to lease (default: the last subnet)')
    .addOption(new Option('--vni <n>', 'VXLAN network identifier (default 1)').argParser(intIn('--vni', 0, 0xffffff)))
    .addOption(new Option('--port <n>', 'VXLAN UDP port (default 4789)').argParser(intIn('--port', 1, 65535)))
    .option('--force', 'replace an existing config'))
    .action(async (o: InitFlags) => networkInit(o, process.stdout));
  addEtcdFlags(network.command('show').description('print the network config').option('--json', 'as JSON'))
    .action(async (o: EtcdFlags & { json?: boolean }) => networkShow(o, process.stdout));

  addEtcdFlags(program.command('leases').description('list every subnet lease: public IP, VTEP MAC, time to expiry').option('--json', 'as JSON'))
    .action(async (o: EtcdFlags & { json?: boolean }) => leases(o, process.stdout));

  registerInspectCommands(program);
  registerExplainCommand(program);
  registerLabCommands(program);
  registerBenchCommand(program);
  // VXTAP_<FLAG> and flannel's FLANNELD_<FLAG> for run, network and leases (env-flags.ts), bound just before
  // the command parses its flags, so a bad variable is a ConfigError like a bad flag.
  const withEnv = new Set(['run', 'init', 'show', 'leases']);
  for (const parent of [program, network]) {
    parent.hook('preSubcommand', (_p, sub) => { if (withEnv.has(sub.name())) bindEnv(sub); });
  }
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message?: string };
    if (typeof e.code === 'string' && e.code.startsWith('commander.')) {
      // commander has printed the problem already (or help/version, exit 0).
      return e.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    // On a terminal the pretty log line is the message; in JSON mode a person
    // reading stderr still gets one plain line.
    if (!logged.has(err as object) || !process.stdout.isTTY) {
      process.stderr.write(`vxtap: ${e.message ?? String(err)}${err instanceof VxtapError ? ` [${err.code}]` : ''}\n`);
    }
    return err instanceof VxtapError && err.code === 'VXTAP_ERR_CONFIG' ? EXIT_USAGE : EXIT_FAILURE;
  }
}

if (require.main === module) {
  main(process.argv).then((code) => { process.exitCode = code; }, (err: unknown) => {
    process.stderr.write(`vxtap: ${String(err)}\n`);
    process.exitCode = EXIT_FAILURE;
  });
}
