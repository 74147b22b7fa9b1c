/**
 * `vxtap lab ...`: a one-machine lab of network namespaces, for learning and
 * trying vxtap: an underlay, a real etcd, vxtap hosts (and a kernel vxlan host
 * with --kernel-peer), a container behind each.
 *
 *   vxtap lab up [--mode routed|l2] [--hosts N] [--kernel-peer] [--network CIDR] [--vni N] [--port N]
 *   vxtap lab status [--json]
 *   vxtap lab ping [--json]
 *   vxtap lab trace HOST [--filter F] [--json] [-n N] [--no-follow]
 *   vxtap lab explain HOST (--from-tap SPEC | --from-net SPEC | --hex HEX --side S | --pcap F --side S) [--json]
 *   vxtap lab down
 *   vxtap lab web [--port N]
 *   vxtap lab exercise [list|NAME] [--auto] [--timeout S] [--json]   (exercises/command.ts)
 *
 * Every subcommand takes --prefix and --state-dir (or VXTAP_LAB_PREFIX and
 * VXTAP_LAB_STATE_DIR), so two labs, or the tests' lab and a user's, live
 * side by side.
 */
import { Command, Option } from 'commander';
import { intIn, wrapParse } from '../cli/arg-parsers';
import { ConfigError } from '../errors';
import { colorWanted } from '../switch/trace';
import { parseTraceFilter } from '../switch/trace-filter';
import { labDown } from './down';
import { registerExerciseCommand } from './exercises/command';
import { addExplainOptions, type ExplainFlags } from '../cli/explain-cmd';
import { labExplain } from './explain';
import { labPing } from './ping';
import { checkPrefix, DEFAULT_HOSTS, DEFAULT_L2_NETWORK, DEFAULT_NETWORK, DEFAULT_PREFIX, DEFAULT_STATE_DIR, DEFAULT_UNDERLAY, LAB_MODES, MAX_HOSTS, modeOf, scopeFlags, type LabMode, type LabScope } from './plan';
import { checkPrereqs } from './prereq';
import { makeSay } from './say';
import { makeShell } from './shell';
import { checkStateDir, requireState } from './state';
import { labStatus } from './status';
import { followTrace, L2_TRACE_LEGEND, traceFileOf } from './trace-view';
import { labUp } from './up';
import { DEFAULT_WEB_PORT, LabWebServer, WEB_HOST, checkWebHost } from './web/server';

interface ScopeFlags {
  prefix: string;
  stateDir: string;
  verbose?: boolean;
}

function withScope(cmd: Command): Command {
  return cmd
    .addOption(new Option('--prefix <prefix>', 'the prefix of every namespace the lab makes').default(process.env.VXTAP_LAB_PREFIX ?? DEFAULT_PREFIX).argParser(wrapParse(checkPrefix)))
    .addOption(new Option('--state-dir <dir>', 'the lab\'s state, logs, traces and etcd data').default(process.env.VXTAP_LAB_STATE_DIR ?? DEFAULT_STATE_DIR));
}

function scopeOf(f: ScopeFlags): LabScope {
  return { prefix: checkPrefix(f.prefix), stateDir: checkStateDir(f.stateDir) };
}

export function registerLabCommands(program: Command): Command {
  const out = process.stdout;
  const say = makeSay(out);
  const shell = (f: ScopeFlags) => makeShell(f.verbose ? (l) => say.dim(l) : null);

  const lab = program.command('lab').description('a one-machine lab in network namespaces: underlay, etcd, vxtap hosts, containers (start with `vxtap lab up`)');

  withScope(lab.command('up')
    .description('build the lab: an underlay bridge, a real etcd, a vxtap daemon per host, a container behind each host')
    .addOption(new Option('--mode <mode>', 'routed: a subnet per host, as flannel; l2: a bridge br0 per host, every container on one subnet, flood and learn').choices(LAB_MODES).default('routed'))
    .addOption(new Option('--hosts <n>', 'vxtap hosts').default(DEFAULT_HOSTS).argParser(intIn('--hosts', 1, MAX_HOSTS)))
    .option('--kernel-peer', 'one more host running the kernel\'s vxlan device, configured as flannel would (--mode l2: in its classic L2 form)')
    .option('--network <cidr>', `the overlay network (default ${DEFAULT_NETWORK}; with --mode l2 the one subnet of every container, default ${DEFAULT_L2_NETWORK})`)
    .addOption(new Option('--vni <n>', 'VXLAN network identifier').default(1).argParser(intIn('--vni', 0, 0xffffff)))
    .addOption(new Option('--port <n>', 'VXLAN UDP port').default(4789).argParser(intIn('--port', 1, 65535)))
    .option('--underlay <cidr>', 'the underlay\'s addresses (a /24 or larger; private to the lab\'s namespaces)', DEFAULT_UNDERLAY)
    .option('--no-trace', 'run the daemons without --trace (faster; `lab trace` then has nothing)')
    .option('--pcap', 'each daemon records both sides of its switch to <state-dir>/<host>.pcapng (vxtap run --pcap), for Wireshark or tshark')
    .option('-v, --verbose', 'print every command the lab runs'))
    .action(async (f: ScopeFlags & { mode: LabMode; hosts: number; kernelPeer?: boolean; network?: string; vni: number; port: number; underlay: string; trace: boolean; pcap?: boolean }) => {
      const scope = scopeOf(f);
      await labUp(scope, {
        hosts: f.hosts, kernelPeer: f.kernelPeer === true, network: f.network ?? (f.mode === 'l2' ? DEFAULT_L2_NETWORK : DEFAULT_NETWORK),
        vni: f.vni, port: f.port, underlay: f.underlay, trace: f.trace, mode: f.mode, ...(f.pcap === true ? { pcap: true } : {}),
      }, shell(f), say);
    });

  withScope(lab.command('status').description('hosts, subnets, VTEP MACs, public IPs, daemons and their leases in etcd').option('--json', 'as JSON'))
    .action(async (f: ScopeFlags & { json?: boolean }) => {
      const scope = scopeOf(f);
      checkPrereqs({});
      await labStatus(requireState(scope, scopeFlags(scope)), shell(f), say, out, f.json === true);
    });

  withScope(lab.command('ping').description('ping every container from every other container; a matrix; fails if any pair does not answer').option('--json', 'as JSON'))
    .action(async (f: ScopeFlags & { json?: boolean }) => {
      const scope = scopeOf(f);
      checkPrereqs({ ping: true });
      await labPing(requireState(scope, scopeFlags(scope)), shell(f), say, out, f.json === true);
    });

  withScope(lab.command('trace').argument('<host>', 'a vxtap host: h1, h2, ...')
    .description('follow the trace of one vxtap daemon (every frame: layers, lookups, decision), as text')
    .addOption(new Option('--filter <filter>', 'as vxtap run --trace-filter: e.g. "icmp", "host 10.44.2.0,icmp", "drops", "arp|icmp"').argParser(wrapParse((v) => { parseTraceFilter(v); return v; })))
    .option('--json', 'the JSON records as the daemon wrote them')
    .addOption(new Option('-n, --lines <n>', 'frames from before now to show first').default(10).argParser(intIn('--lines', 0, 1_000_000)))
    .option('--no-follow', 'print and exit instead of waiting for more'))
    .action(async (host: string, f: ScopeFlags & { filter?: string; json?: boolean; lines: number; follow: boolean }) => {
      const scope = scopeOf(f);
      const st = requireState(scope, scopeFlags(scope));
      const { name, path } = traceFileOf(st, host);
      if (f.follow) process.stderr.write(`following ${name}'s trace (${path}); Ctrl-C stops. In another terminal: npx vxtap lab ping${scopeFlags(scope)}\n`);
      if (f.json !== true && modeOf(st.options) === 'l2') process.stderr.write(L2_TRACE_LEGEND);
      await followTrace(path, name, { filter: f.filter ?? null, json: f.json === true, lines: f.lines, follow: f.follow, color: colorWanted(out) }, out);
    });

  withScope(addExplainOptions(lab.command('explain').argument('<host>', 'a vxtap host: h1, h2, ...')
    .description('vxtap explain on one host: in its namespace (its kernel\'s routes), against its daemon')))
    .action((host: string, f: ScopeFlags & ExplainFlags) => {
      const scope = scopeOf(f);
      const code = labExplain(requireState(scope, scopeFlags(scope)), host, f);
      // The inner vxtap's status (2: a bad spec) is ours; it has printed why.
      if (code !== 0) process.exit(code);
    });

  withScope(lab.command('down').description('remove everything the lab made (processes, namespaces, state dir); safe to run twice, or after a crash')
    .option('-v, --verbose', 'print every command the lab runs'))
    .action(async (f: ScopeFlags) => {
      const scope = scopeOf(f);
      checkPrereqs({});
      const r = await labDown(scope, shell(f), say);
      if (r.stateDir === 'foreign') throw new ConfigError(`--state-dir ${scope.stateDir} is not a lab's; it was left as it is`, 'state-dir');
      out.write(r.processes + r.namespaces.length === 0 && r.stateDir === 'absent' ? 'lab down: there was nothing to remove\n' : 'lab down: done\n');
    });

  withScope(lab.command('web').description(`a live picture of the lab in the browser, on ${WEB_HOST} only: hosts, tunnels, counters, tables, etcd records, a ping animated step by step`)
    .addOption(new Option('--port <n>', 'TCP port (0: any free one; the URL is printed)').default(DEFAULT_WEB_PORT).argParser(intIn('--port', 0, 65535)))
    .addOption(new Option('--host <addr>', `the address to serve on: ${WEB_HOST} only (any other is refused: the page is local)`).default(WEB_HOST).argParser(wrapParse(checkWebHost))))
    .action(async (f: ScopeFlags & { port: number; host: string }) => {
      const scope = scopeOf(f);
      checkPrereqs({});
      requireState(scope, scopeFlags(scope));
      const web = new LabWebServer(scope, makeShell(null));
      const url = await web.listen({ port: f.port, host: f.host });
      out.write(`lab web: ${url} (local only; Ctrl-C stops it)\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => { process.off('SIGINT', stop); process.off('SIGTERM', stop); void web.close().then(resolve); };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
  registerExerciseCommand(lab, withScope);

  return lab;
}
