/**
 * `vxtap lab up`: a whole overlay on one machine, built step by step and
 * told as it goes.
 *
 *   1. underlay     a bridge in <p>underlay; etcd and every host on it by veth
 *   2. etcd         a real etcd in <p>etcd, data in the state dir
 *   3. network      `vxtap network init` writes flannel's config to etcd
 *   4. vxtap        `vxtap run` in each host: it leases a subnet, writes the
 *                   subnet file, and learns the others through etcd
 *   5. kernel peer  (--kernel-peer) the kernel's vxlan device in <p>k1, as
 *                   flannel sets it up, with its lease written to etcd
 *   6. learning     wait until every host routes to every other subnet
 *   7. containers   behind each host, from its subnet file, as Docker would
 *
 * With --mode l2 the steps are told in L2 terms: a bridge br0 in each host,
 * the segment's VNI and port in etcd (no subnets), `vxtap run --mode l2
 * --bridge br0` registering each host as a VTEP, the kernel host's vx0 in its
 * classic L2 form, the flood lists, and the containers on one subnet.
 *
 * The state file is written after each step; a failure leaves what was built
 * in place for a look, and `vxtap lab down` removes it.
 */
import { buildConfig, subnetSize } from '../control/etcd/network-config';
import { macFromIp } from '../control/peers';
import { formatCidr, formatIpv4 } from '../wire/addr';
import { ETCD_PREFIX, etcdctl, etcdDataDir, putWithLease, startEtcd, waitEtcd, type EtcdPlace } from './etcd';
import { LabError } from './errors';
import { CONTAINER_BRIDGE, L2_BRIDGE, modeOf, planLab, scopeFlags, type HostPlan, type LabPlan, type LabScope, type LabUpOptions } from './plan';
import { checkPrereqs } from './prereq';
import { sleep } from './procs';
import type { Say } from './say';
import { listNamespaces, type Shell } from './shell';
import { makeStateDir, readState, writeState, type HostState, type LabState } from './state';
import { addContainer, addKernelL2Vtep, addKernelPeer, addKernelVtep, addL2Bridge, addL2Container, addUnderlayBridge, attachHost, noIpv6, type KernelVtep } from './topology';
import { daemonArgs, daemonFiles, daemonJson, leasesIn, startDaemon, vxtapIn, waitDaemon, type DaemonFiles, type FdbRowJson, type PeerRowJson } from './vxtap';
import { encodeVtep } from '../control/etcd/vteps';
import { vtepMtu } from '../control/kernel';
import { renderStatus, collectStatus } from './status';
import { join } from 'node:path';

/** Kernel hosts hold their lease as flannel does: 24 h. */
const KERNEL_LEASE_TTL = 24 * 3600;

export async function labUp(scope: LabScope, opts: LabUpOptions, sh: Shell, say: Say): Promise<void> {
  const plan = planLab(scope, opts);
  checkPrereqs({ up: true, kernelPeer: opts.kernelPeer });
  refuseExisting(sh, plan);
  const l2 = modeOf(opts) === 'l2';
  say.head(`vxtap lab${l2 ? ' (L2 mode)' : ''}: ${opts.hosts} vxtap host(s)${opts.kernelPeer ? ' and a kernel vxlan host' : ''} on one machine, in network namespaces named ${scope.prefix}*`);
  makeStateDir(scope.stateDir);
  const st = initialState(plan);
  writeState(st);
  const hint = scopeFlags(scope);
  // Ctrl-C: what is built stays (the daemons and etcd run in sessions of their own); say how to remove it.
  const onInt = (): void => {
    say.line('');
    say.line(say.red(`interrupted; remove what was built with: npx vxtap lab down${hint}`));
    process.exit(130);
  };
  process.once('SIGINT', onInt);
  try {
    if (l2) await buildL2(plan, st, sh, say);
    else await build(plan, st, sh, say);
  } catch (err) {
    say.line('');
    say.line(say.red(`lab up failed. What was built is left for a look (logs in ${scope.stateDir});`));
    say.line(say.red(`remove it with: npx vxtap lab down${hint}`));
    throw err;
  } finally {
    process.removeListener('SIGINT', onInt);
  }
  st.phase = 'up';
  writeState(st);

  say.step('the lab is up');
  const status = await collectStatus(st, sh);
  say.line(renderStatus(status, say).trimEnd());
  say.line('');
  say.line('Try next:');
  const h1 = st.hosts[0]!;
  const other = st.hosts[st.hosts.length - 1]!;
  const next: [string, string][] = l2 ? [
    [`npx vxtap lab ping${hint}`, 'ping every container from every other one (the first ping of a pair is flooded, then learned)'],
    [`npx vxtap lab trace h1${hint}`, 'follow every frame through vxtap on h1: learned, flooded, ARP suppressed, split horizon'],
    [`npx vxtap lab status${hint}`, 'hosts, VTEP MACs, containers, daemons, flood lists, VTEP keys'],
    [`npx vxtap lab down${hint}`, 'remove everything the lab made'],
    ...(other !== h1 ? [[`ip netns exec ${h1.containerNs} ping ${other.containerIp}`, 'one ping by hand, container to container, on the one subnet'] as [string, string]] : []),
    [`npx vxtap fdb --control-socket ${h1.socket}`, 'h1\'s VXLAN FDB: the flood list (00:00:00:00:00:00) and learned MACs (also: arp, peers, stats)'],
    [`ip netns exec ${h1.ns} bridge fdb show br ${L2_BRIDGE}`, 'h1\'s Linux bridge: which port (TAP or container veth) each MAC is behind'],
    [`ip netns exec ${st.etcd.ns} etcdctl get --prefix ${ETCD_PREFIX}/l2`, 'the VTEP keys in etcd'],
    [`less ${h1.log}`, 'a daemon\'s log'],
  ] : [
    [`npx vxtap lab ping${hint}`, 'ping every container from every other one'],
    [`npx vxtap lab trace h1${hint}`, 'follow every frame through vxtap on h1 (ping meanwhile)'],
    [`npx vxtap lab status${hint}`, 'hosts, subnets, VTEP MACs, daemons, leases'],
    [`npx vxtap lab down${hint}`, 'remove everything the lab made'],
    ...(other !== h1 ? [[`ip netns exec ${h1.containerNs} ping ${other.containerIp}`, 'one ping by hand, container to container'] as [string, string]] : []),
    [`ip netns exec ${h1.ns} ip route show dev ${st.tap}`, 'the routes vxtap installed (flannel\'s scheme)'],
    [`ip netns exec ${h1.ns} npx vxtap fdb`, 'h1\'s forwarding database (also: arp, peers, stats)'],
    [`ip netns exec ${st.etcd.ns} etcdctl get --prefix /coreos.com/network`, 'flannel\'s keys in etcd'],
    [`less ${h1.log}`, 'a daemon\'s log'],
  ];
  if (st.options.pcap === true) next.push([`tshark -r ${join(st.stateDir, `${h1.name}.pcapng`)} -V`, 'h1\'s capture, both sides of its switch (or open it in Wireshark)']);
  const w = Math.max(...next.map(([c]) => c.length));
  for (const [cmd, what] of next) say.line(`  ${cmd.padEnd(w)}   ${what}`);
}

function refuseExisting(sh: Shell, plan: LabPlan): void {
  const mine = listNamespaces(sh).filter((n) => n.startsWith(plan.scope.prefix));
  const st = readState(plan.scope);
  if (mine.length > 0 || st !== null) {
    const what = mine.length > 0 ? `namespaces ${mine.slice(0, 4).join(', ')}${mine.length > 4 ? ', ...' : ''}` : `state in ${plan.scope.stateDir}`;
    throw new LabError('VXTAP_ERR_LAB_EXISTS', `a lab with prefix ${plan.scope.prefix} is already here (${what}); remove it first: npx vxtap lab down${scopeFlags(plan.scope)}`);
  }
}

function initialState(plan: LabPlan): LabState {
  const dir = plan.scope.stateDir;
  return {
    version: 1,
    phase: 'building',
    prefix: plan.scope.prefix,
    stateDir: dir,
    createdAt: new Date().toISOString(),
    options: plan.opts,
    underlayNs: plan.underlayNs,
    tap: plan.tap,
    vxlanDev: plan.vxlanDev,
    etcd: { ns: plan.etcd.ns, ip: plan.etcd.ip, endpoint: plan.etcd.endpoint, pid: null, dataDir: etcdDataDir(dir), log: join(dir, 'etcd.log') },
    hosts: plan.hosts.map((h) => ({
      name: h.name, kind: h.kind, ns: h.ns, containerNs: h.containerNs, ip: h.ip,
      subnet: null, containerIp: null, ...(h.l2 !== undefined ? { containerMac: null } : {}), vtepMac: null, pid: null, log: null, trace: null, subnetFile: null,
    })),
  };
}

/** Step 1 of either mode: the underlay bridge, etcd and every host on it; `each` adds to a host once attached. */
function buildUnderlay(plan: LabPlan, sh: Shell, say: Say, notes: { kernel: string; vxtap: string }, each?: (h: HostPlan) => void): void {
  say.step(`1. underlay: a bridge in ${plan.underlayNs}, every host on it by a veth (${plan.opts.underlay})`);
  say.line('The underlay is the "physical" network the overlay runs over; here, a Linux bridge.');
  addUnderlayBridge(sh, plan.underlayNs);
  attachHost(sh, plan.underlayNs, 'etcd', plan.etcd.ns, plan.etcd.ip, plan.underlayLen);
  say.line(`${'etcd'.padEnd(5)} ${plan.etcd.ip.padEnd(15)} namespace ${plan.etcd.ns}`);
  for (const h of plan.hosts) {
    attachHost(sh, plan.underlayNs, h.name, h.ns, h.ip, plan.underlayLen);
    each?.(h);
    say.line(`${h.name.padEnd(5)} ${h.ip.padEnd(15)} namespace ${h.ns}   (${h.kind === 'kernel' ? notes.kernel : notes.vxtap})`);
  }
}

/**
 * Starts `vxtap run` in each vxtap host (routed, or L2 with `l2`), shows the
 * first one's command line, and records each daemon in the state. Returns
 * each host's files.
 */
function startDaemons(plan: LabPlan, vxHosts: readonly HostPlan[], hs: (h: HostPlan) => HostState, endpoint: string,
  l2: { bridge: string } | null, sh: Shell, say: Say): Map<string, DaemonFiles> {
  const o = plan.opts;
  const files = new Map(vxHosts.map((h) => [h.name, daemonFiles(plan.scope.stateDir, h.name, o.trace, o.pcap === true)]));
  const f1 = files.get(vxHosts[0]!.name)!;
  say.dim(`in ${vxHosts[0]!.ns}: vxtap ${daemonArgs(endpoint, f1, l2).join(' ')} ${f1.trace !== null ? `>${f1.trace} ` : ''}2>${f1.log}`);
  for (const h of vxHosts) {
    const f = files.get(h.name)!;
    const s = hs(h);
    s.log = f.log;
    s.trace = f.trace;
    if (l2 === null) s.subnetFile = f.subnetFile;
    else s.socket = f.socket;
    s.vtepMac = macFromIp(h.ip);
    s.pid = startDaemon(sh, h.ns, endpoint, f, l2);
  }
  return files;
}

async function build(plan: LabPlan, st: LabState, sh: Shell, say: Say): Promise<void> {
  const o = plan.opts;
  const vxHosts = plan.hosts.filter((h) => h.kind === 'vxtap');
  const kHost = plan.hosts.find((h) => h.kind === 'kernel');
  const hs = (h: HostPlan): HostState => st.hosts.find((x) => x.name === h.name)!;

  buildUnderlay(plan, sh, say, { kernel: 'the kernel\'s vxlan device, as flannel sets it up', vxtap: 'vxtap' });

  say.step(`2. etcd: the control plane's store, in ${plan.etcd.ns} at ${plan.etcd.endpoint}`);
  const etcd: EtcdPlace = plan.etcd;
  st.etcd.pid = startEtcd(sh, etcd, st.etcd.dataDir, st.etcd.log);
  writeState(st);
  await waitEtcd(sh, etcd, st.etcd.pid, st.etcd.log);
  say.line(`etcd is up (pid ${st.etcd.pid}, data in ${st.etcd.dataDir}, log ${st.etcd.log})`);

  say.step('3. network config: `vxtap network init` writes flannel\'s config to etcd');
  const init = vxtapIn(sh, etcd.ns, ['network', 'init', '--network', o.network, '--vni', String(o.vni), '--port', String(o.port), '--etcd-endpoints', etcd.endpoint]);
  say.line(init.trimEnd());
  say.line('Every host reads it: the overlay network, each host\'s subnet size, VNI and UDP port.');

  say.step(`4. vxtap: \`vxtap run\` in ${vxHosts.map((h) => h.name).join(', ')}; each leases a subnet in etcd`);
  const files = startDaemons(plan, vxHosts, hs, etcd.endpoint, null, sh, say);
  writeState(st);
  const up = (await Promise.all(vxHosts.map((h) => waitDaemon(h.name, hs(h).pid!, files.get(h.name)!)))).map((u) => u!);
  vxHosts.forEach((h, i) => { hs(h).subnet = up[i]!.subnet; });
  writeState(st);
  const mtu = up[0]!.mtu;
  for (const h of vxHosts) {
    const s = hs(h);
    say.line(`${h.name}: pid ${s.pid}, leased ${s.subnet!.padEnd(15)} VTEP MAC ${s.vtepMac} (from its IP ${h.ip}), TAP ${plan.tap}`);
  }
  say.line(`The leases are etcd keys: /coreos.com/network/subnets/<subnet>; each daemon watches them`);
  say.line(`and gives every other host a route, an ARP entry and an FDB entry. Logs: ${plan.scope.stateDir}/h*.log`);

  if (kHost !== undefined) {
    say.step(`5. kernel peer: ${kHost.name} runs the kernel's vxlan device (${plan.vxlanDev}), configured as flannel would`);
    const leases = await leasesIn(sh, etcd.ns, etcd.endpoint);
    const subnet = freeSubnet(o, leases.map((l) => l.subnet).filter((x): x is string => x !== null));
    const k: KernelVtep = { ns: kHost.ns, dev: plan.vxlanDev, vni: o.vni, port: o.port, ip: kHost.ip, subnet, mtu };
    const mac = addKernelVtep(sh, k);
    const s = hs(kHost);
    s.subnet = subnet;
    s.vtepMac = mac;
    writeState(st);
    say.line(`${plan.vxlanDev}: vxlan id ${o.vni} dstport ${o.port} local ${kHost.ip} dev eth0 nolearning, MTU ${mtu}, ${subnet.split('/')[0]}/32, MAC ${mac}`);
    say.line('eth0: default offloads (across the veth its inner checksums stay partial, for a NIC; the vxtap hosts finish them)');
    const key = `/coreos.com/network/subnets/${subnet.replace('/', '-')}`;
    const value = JSON.stringify({ PublicIP: kHost.ip, PublicIPv6: null, BackendType: 'vxlan', BackendData: { VNI: o.vni, VtepMAC: mac } });
    putWithLease(sh, etcd, key, value, KERNEL_LEASE_TTL);
    say.line(`lease written as flannel writes it: ${key} = ${value}`);
    for (const h of vxHosts) {
      const hsx = hs(h);
      addKernelPeer(sh, k, { subnet: hsx.subnet!, publicIp: h.ip, vtepMac: hsx.vtepMac! });
      say.line(`for ${h.name}: neigh ${hsx.subnet!.split('/')[0]} lladdr ${hsx.vtepMac}, fdb ${hsx.vtepMac} dst ${h.ip}, route ${hsx.subnet} via ${hsx.subnet!.split('/')[0]} onlink`);
    }
    say.line('(flannel would watch etcd for changes; the lab sets these up once)');
  }

  say.step(`${kHost ? 6 : 5}. learning: every vxtap host routes to every other host's subnet (through etcd's watch)`);
  await waitRoutes(sh, st, vxHosts.map(hs));
  const first = hs(vxHosts[0]!);
  say.line(`${first.name}'s routes through its TAP (ip route show dev ${plan.tap}):`);
  const routes = sh.run('ip', ['-n', first.ns, 'route', 'show', 'dev', plan.tap], { quiet: true }).trimEnd();
  say.line(routes === '' ? '  (none: there is no other host)' : routes.split('\n').map((l) => `  ${l.trimEnd()}`).join('\n'));
  say.line(`Each remote subnet goes via its .0 address, "onlink"; vxtap answers the ARP for that .0 with the peer's VTEP MAC.`);

  say.step(`${kHost ? 7 : 6}. containers: behind each host a bridge ${CONTAINER_BRIDGE} with <subnet>.1 (docker0's role), a container at <subnet>.2`);
  for (const h of plan.hosts) {
    const s = hs(h);
    const c = addContainer(sh, h.ns, h.containerNs, s.subnet!, mtu);
    s.containerIp = c.ip;
    writeState(st);
    say.line(`${h.containerNs.padEnd(Math.max(12, h.containerNs.length))} ${c.ip.padEnd(15)} default via ${s.subnet!.replace(/\.0\/\d+$/, '.1')}, MTU ${mtu}  (${h.name} forwards)`);
  }
}

/** The underlay veths keep the default MTU; the L2 overlay gets it less VXLAN's 50 bytes, as vxtap sets its TAP (vtepMtu). */
const L2_UNDERLAY_MTU = 1500;

async function buildL2(plan: LabPlan, st: LabState, sh: Shell, say: Say): Promise<void> {
  const o = plan.opts;
  const vxHosts = plan.hosts.filter((h) => h.kind === 'vxtap');
  const kHost = plan.hosts.find((h) => h.kind === 'kernel');
  const hs = (h: HostPlan): HostState => st.hosts.find((x) => x.name === h.name)!;
  const mtu = vtepMtu(L2_UNDERLAY_MTU);

  buildUnderlay(plan, sh, say, { kernel: 'the kernel\'s vxlan device in its classic L2 form', vxtap: 'vxtap --mode l2' }, (h) => noIpv6(sh, h.ns));
  say.line('IPv6 is off in every lab namespace: no router solicitations or MLD reports to flood, so the trace shows what you send.');

  say.step(`2. etcd: the control plane's store, in ${plan.etcd.ns} at ${plan.etcd.endpoint}`);
  const etcd: EtcdPlace = plan.etcd;
  st.etcd.pid = startEtcd(sh, etcd, st.etcd.dataDir, st.etcd.log);
  writeState(st);
  await waitEtcd(sh, etcd, st.etcd.pid, st.etcd.log);
  say.line(`etcd is up (pid ${st.etcd.pid}, data in ${st.etcd.dataDir}, log ${st.etcd.log})`);

  say.step(`3. segment config: the VNI and UDP port in ${ETCD_PREFIX}/config`);
  const config = JSON.stringify({ Backend: { Type: 'vxlan', VNI: o.vni, Port: o.port } });
  etcdctl(sh, etcd, ['put', `${ETCD_PREFIX}/config`, config]);
  say.line(`${ETCD_PREFIX}/config = ${config}`);
  say.line(`L2 mode reads only Backend.VNI and Backend.Port: no host leases a subnet. Every container is on one`);
  say.line(`subnet, ${o.network}, as if all were plugged into one switch; VXLAN stretches that switch across the hosts.`);

  say.step(`4. bridges: a Linux bridge ${L2_BRIDGE} in every host`);
  for (const h of plan.hosts) addL2Bridge(sh, h.ns);
  say.line(`${L2_BRIDGE} is the host's switch. Its ports will be the host's VTEP (vxtap's TAP, or the kernel's ${plan.vxlanDev}) and`);
  say.line('the container\'s veth. The bridge learns which MAC is behind which port; the VTEP learns which MAC is behind');
  say.line('which remote host, from the frames it decapsulates.');

  say.step(`5. vxtap: \`vxtap run --mode l2 --bridge ${L2_BRIDGE}\` in ${vxHosts.map((h) => h.name).join(', ')}; each registers as a VTEP in etcd`);
  const files = startDaemons(plan, vxHosts, hs, etcd.endpoint, { bridge: L2_BRIDGE }, sh, say);
  writeState(st);
  await Promise.all(vxHosts.map((h) => waitDaemon(h.name, hs(h).pid!, files.get(h.name)!, 30_000, true)));
  for (const h of vxHosts) {
    const s = hs(h);
    say.line(`${h.name}: pid ${s.pid}, TAP ${plan.tap} (MAC ${s.vtepMac}, MTU ${mtu}, no address) a port of ${L2_BRIDGE}; key ${ETCD_PREFIX}/l2/${o.vni}/vteps/${h.ip}`);
  }
  say.line('Each key is on a 10 s etcd lease the daemon keeps alive: a host that stops leaves every flood list.');
  say.line(`Each daemon watches ${ETCD_PREFIX}/l2/${o.vni}/vteps/ and puts every other host on its flood list.`);
  say.line(`Logs: ${plan.scope.stateDir}/h*.log; control sockets (vxtap fdb|arp|peers|stats --control-socket): ${plan.scope.stateDir}/h*.sock`);

  let n = 6;
  if (kHost !== undefined) {
    say.step(`${n++}. kernel peer: ${kHost.name} runs the kernel's vxlan device ${plan.vxlanDev} in its classic L2 form`);
    const others = plan.hosts.filter((h) => h !== kHost).map((h) => h.ip);
    const k = { ns: kHost.ns, dev: plan.vxlanDev, vni: o.vni, port: o.port, ip: kHost.ip, mtu };
    const mac = addKernelL2Vtep(sh, k, others);
    const s = hs(kHost);
    s.vtepMac = mac;
    writeState(st);
    say.line(`ip link add ${plan.vxlanDev} type vxlan id ${o.vni} dstport ${o.port} local ${kHost.ip} dev eth0 learning; master ${L2_BRIDGE}, MTU ${mtu}, MAC ${mac}`);
    for (const ip of others) say.line(`bridge fdb append 00:00:00:00:00:00 dev ${plan.vxlanDev} dst ${ip}   (flood list: a copy of each broadcast to ${ip})`);
    const key = `${ETCD_PREFIX}/l2/${o.vni}/vteps/${kHost.ip}`;
    const value = encodeVtep({ publicIp: kHost.ip, port: o.port, vtepMac: mac });
    putWithLease(sh, etcd, key, value, KERNEL_LEASE_TTL);
    say.line(`its key, written by the lab on a 24 h lease (no daemon keeps it alive): ${key} = ${value}`);
    say.line('(the kernel device\'s flood list is set up once; it does not watch etcd)');
  }

  say.step(`${n++}. flood lists: every vxtap host has every other host on its flood list (through etcd's watch)`);
  await waitFloodLists(sh, st, vxHosts.map(hs));
  const first = hs(vxHosts[0]!);
  const fdb = await daemonJson<FdbRowJson[]>(sh, first.ns, 'fdb', first.socket ?? null);
  say.line(`${first.name}'s VXLAN FDB now (npx vxtap fdb --control-socket ${first.socket}):`);
  const floods = fdb.filter((r) => r.kind === 'flood');
  say.line(floods.length === 0 ? '  (empty: there is no other host)' : floods.map((r) => `  ${r.mac}  dst ${r.vtep}:${r.port}  flood`).join('\n'));
  say.line('00:00:00:00:00:00 is the flood list: a broadcast (an ARP request), a multicast or a frame to an unknown MAC');
  say.line('is sent to each of these VTEPs, one unicast copy each (head-end replication). A copy that arrives is');
  say.line('delivered to the bridge only, never flooded on to the network again (split horizon).');

  say.step(`${n}. containers: a veth into ${L2_BRIDGE} on every host, every container on ${o.network}`);
  for (const h of plan.hosts) {
    const s = hs(h);
    const c = h.l2!;
    const mac = macFromIp(c.containerIp);
    addL2Container(sh, h.ns, h.containerNs, c.containerIp, c.len, mac, mtu);
    s.containerIp = c.containerIp;
    s.containerMac = mac;
    writeState(st);
    say.line(`${h.containerNs.padEnd(Math.max(12, h.containerNs.length))} ${`${c.containerIp}/${c.len}`.padEnd(18)} MAC ${mac}, MTU ${mtu}, no gateway: the others are on the same link`);
  }
  say.line('No MAC is learned yet. The first ping of a pair sends an ARP request: a broadcast, so it is flooded;');
  say.line('the far VTEP learns the sender\'s MAC behind the VTEP it came from ("learned ... behind ..." in the trace),');
  say.line('and the reply goes back as a unicast to a MAC now known. vxtap also snoops ARP: a later request for an');
  say.line('address it knows is answered on the spot ("ARP suppressed from the table"), not flooded.');
}

/** Waits until each vxtap host's flood list holds every other host (`vxtap peers --json`). */
async function waitFloodLists(sh: Shell, st: LabState, vxHosts: readonly HostState[], timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const missing: string[] = [];
    for (const h of vxHosts) {
      let have: string[] = [];
      try {
        have = (await daemonJson<PeerRowJson[]>(sh, h.ns, 'peers', h.socket ?? null)).filter((r) => r.error === null).map((r) => r.publicIp);
      } catch { /* not answering yet: all missing */ }
      for (const o of st.hosts) if (o !== h && !have.includes(o.ip)) missing.push(`${h.name} → ${o.ip}`);
    }
    if (missing.length === 0) return;
    if (Date.now() > end) throw new LabError('VXTAP_ERR_LAB_START', `flood lists still missing VTEPs after ${timeoutMs / 1000} s: ${missing.join(', ')} (see the daemons' logs in ${st.stateDir})`);
    await sleep(100);
  }
}

/** The first subnet from SubnetMin up that no lease holds. */
function freeSubnet(o: LabUpOptions, leased: readonly string[]): string {
  const cfg = buildConfig({ network: o.network, vni: o.vni, port: o.port });
  const taken = new Set(leased);
  const size = subnetSize(cfg);
  for (let a = cfg.subnetMin; a <= cfg.subnetMax; a += size) {
    const s = formatCidr({ addr: a >>> 0, len: cfg.subnetLen });
    if (!taken.has(s)) return s;
  }
  throw new LabError('VXTAP_ERR_LAB_START', `no free subnet left in ${o.network} for the kernel host (last tried ${formatIpv4(cfg.subnetMax)})`);
}

/** Waits until each vxtap host has a route through its TAP to every other host's subnet. */
async function waitRoutes(sh: Shell, st: LabState, vxHosts: readonly HostState[], timeoutMs = 15_000): Promise<void> {
  const all = st.hosts.map((h) => h.subnet).filter((s): s is string => s !== null);
  const end = Date.now() + timeoutMs;
  for (;;) {
    const missing: string[] = [];
    for (const h of vxHosts) {
      const routes = sh.tryRun('ip', ['-n', h.ns, 'route', 'show', 'dev', st.tap]).stdout;
      for (const s of all) if (s !== h.subnet && !routes.includes(s)) missing.push(`${h.name} → ${s}`);
    }
    if (missing.length === 0) return;
    if (Date.now() > end) throw new LabError('VXTAP_ERR_LAB_START', `routes still missing after ${timeoutMs / 1000} s: ${missing.join(', ')} (see the daemons' logs in ${st.stateDir})`);
    await sleep(100);
  }
}
