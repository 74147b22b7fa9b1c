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
 * The state file is written after each step; a failure leaves what was built
 * in place for a look, and `vxtap lab down` removes it.
 */
import { buildConfig, subnetSize } from '../control/etcd/network-config';
import { macFromIp } from '../control/peers';
import { formatCidr, formatIpv4 } from '../wire/addr';
import { etcdDataDir, putWithLease, startEtcd, waitEtcd, type EtcdPlace } from './etcd';
import { LabError } from './errors';
import { CONTAINER_BRIDGE, planLab, scopeFlags, type HostPlan, type LabPlan, type LabScope, type LabUpOptions } from './plan';
import { checkPrereqs } from './prereq';
import { sleep } from './procs';
import type { Say } from './say';
import { listNamespaces, type Shell } from './shell';
import { makeStateDir, readState, writeState, type HostState, type LabState } from './state';
import { addContainer, addKernelPeer, addKernelVtep, addUnderlayBridge, attachHost, type KernelVtep } from './topology';
import { daemonArgs, daemonFiles, leasesIn, startDaemon, vxtapIn, waitDaemon } from './vxtap';
import { renderStatus, collectStatus } from './status';
import { join } from 'node:path';

/** Kernel hosts hold their lease as flannel does: 24 h. */
const KERNEL_LEASE_TTL = 24 * 3600;

export async function labUp(scope: LabScope, opts: LabUpOptions, sh: Shell, say: Say): Promise<void> {
  const plan = planLab(scope, opts);
  checkPrereqs({ up: true, kernelPeer: opts.kernelPeer });
  refuseExisting(sh, plan);
  say.head(`vxtap lab: ${opts.hosts} vxtap host(s)${opts.kernelPeer ? ' and a kernel vxlan host' : ''} on one machine, in network namespaces named ${scope.prefix}*`);
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
    await build(plan, st, sh, say);
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
  const next: [string, string][] = [
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
      subnet: null, containerIp: null, vtepMac: null, pid: null, log: null, trace: null, subnetFile: null,
    })),
  };
}

async function build(plan: LabPlan, st: LabState, sh: Shell, say: Say): Promise<void> {
  const o = plan.opts;
  const vxHosts = plan.hosts.filter((h) => h.kind === 'vxtap');
  const kHost = plan.hosts.find((h) => h.kind === 'kernel');
  const hs = (h: HostPlan): HostState => st.hosts.find((x) => x.name === h.name)!;

  say.step(`1. underlay: a bridge in ${plan.underlayNs}, every host on it by a veth (${o.underlay})`);
  say.line('The underlay is the "physical" network the overlay runs over; here, a Linux bridge.');
  addUnderlayBridge(sh, plan.underlayNs);
  attachHost(sh, plan.underlayNs, 'etcd', plan.etcd.ns, plan.etcd.ip, plan.underlayLen);
  say.line(`${'etcd'.padEnd(5)} ${plan.etcd.ip.padEnd(15)} namespace ${plan.etcd.ns}`);
  for (const h of plan.hosts) {
    attachHost(sh, plan.underlayNs, h.name, h.ns, h.ip, plan.underlayLen);
    say.line(`${h.name.padEnd(5)} ${h.ip.padEnd(15)} namespace ${h.ns}${h.kind === 'kernel' ? '   (the kernel\'s vxlan device, as flannel sets it up)' : '   (vxtap)'}`);
  }

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
  const files = new Map(vxHosts.map((h) => [h.name, daemonFiles(plan.scope.stateDir, h.name, o.trace)]));
  const f1 = files.get(vxHosts[0]!.name)!;
  say.dim(`in ${vxHosts[0]!.ns}: vxtap ${daemonArgs(etcd.endpoint, f1).join(' ')} ${f1.trace !== null ? `>${f1.trace} ` : ''}2>${f1.log}`);
  for (const h of vxHosts) {
    const f = files.get(h.name)!;
    const s = hs(h);
    s.log = f.log;
    s.trace = f.trace;
    s.subnetFile = f.subnetFile;
    s.vtepMac = macFromIp(h.ip);
    s.pid = startDaemon(sh, h.ns, etcd.endpoint, f);
  }
  writeState(st);
  const up = await Promise.all(vxHosts.map((h) => waitDaemon(h.name, hs(h).pid!, files.get(h.name)!)));
  vxHosts.forEach((h, i) => { hs(h).subnet = up[i]!.subnet; });
  writeState(st);
  for (const h of vxHosts) {
    const s = hs(h);
    say.line(`${h.name}: pid ${s.pid}, leased ${s.subnet!.padEnd(15)} VTEP MAC ${s.vtepMac} (from its IP ${h.ip}), TAP ${plan.tap}`);
  }
  say.line(`The leases are etcd keys: /coreos.com/network/subnets/<subnet>; each daemon watches them`);
  say.line(`and gives every other host a route, an ARP entry and an FDB entry. Logs: ${plan.scope.stateDir}/h*.log`);
  const mtu = up[0]!.mtu;

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
