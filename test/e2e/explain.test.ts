/**
 * End to end: `vxtap explain` / `vxtap lab explain` against real daemons,
 * a real etcd and real kernels (issue #12), each in namespaces of its own:
 *
 *   routed lab (vxt-xpl-, 2 hosts): a ping to a peer's container explains as
 *     encap to that peer's VTEP and names the lease's etcd key, its
 *     revisions and its lease with a TTL, as `etcdctl get -w json` shows
 *     them; a ping to a subnet nobody leased never reaches vxtap (the
 *     default route takes it); a datagram with another VNI is the
 *     vxlan-unknown-vni drop; a bad spec exits 2; and no counter moved.
 *   L2 lab (vxt-xpm-, 3 hosts): an unknown MAC explains as a flood to the 2
 *     other VTEPs, each named by its etcd key; no counter moved.
 *   a static peers file (vxt-xpf-): the FDB entry names the file and the line
 *     of the peer's entry.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needNamespaces, nsPrefix, waitFor } from '../helpers/netns';
import { labCmd, type LabResult } from '../helpers/lab';
import { needEtcd } from '../helpers/etcd';
import { Daemon, VXTAP } from '../helpers/daemon';
import type { ExplainOutput } from '../../src/cli/explain-cmd';
import type { StatsData } from '../../src/control/api/protocol';
import { macFromIp } from '../../src/control/peers';

const base = mkdtempSync(join(tmpdir(), 'vxtap-explain-test-'));
test.after(() => rmSync(base, { recursive: true, force: true }));

interface LabJson {
  etcd: { ns: string; endpoint: string };
  hosts: { name: string; ns: string; ip: string; subnet: string | null; containerIp: string | null; containerMac?: string | null; vtepMac: string | null; socket?: string | null }[];
}

/** A lab of its own (prefix, state dir), brought down (and its namespaces removed) whatever happens. */
async function labUp(t: TestContext, prefix: string, args: string[]): Promise<{ st: LabJson; lab: (cmd: string, a?: string[]) => Promise<LabResult> } | null> {
  if (!needNamespaces(t) || !needEtcd(t)) return null;
  const stateDir = join(base, prefix);
  const guard = new Lab(prefix);
  const lab = (cmd: string, a: string[] = []): Promise<LabResult> => labCmd(prefix, stateDir, cmd, a);
  t.after(async () => {
    await lab('down');
    await guard.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  });
  const up = await lab('up', ['--no-trace', ...args]);
  assert.equal(up.status, 0, `lab up: ${up.stdout}\n${up.stderr}`);
  return { st: JSON.parse(readFileSync(join(stateDir, 'lab.json'), 'utf8')) as LabJson, lab };
}

/** A daemon's counters, read in its namespace (the lab's socket when it has one). */
function counters(h: LabJson['hosts'][number]): StatsData['counters'] {
  const r = spawnSync('ip', ['netns', 'exec', h.ns, process.execPath, VXTAP, 'stats', '--json', ...(h.socket ? ['--control-socket', h.socket] : [])], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as StatsData).counters;
}

/**
 * The counters once nothing else moves them: the kernel's own IPv6 traffic
 * on the TAP (router solicitations, MLD reports: multicast, counted as
 * `flood` drops) is turned off, then the counters must stay the same for
 * ten reads in a row, 300 ms apart.
 */
async function settled(h: LabJson['hosts'][number], tap: string | null): Promise<StatsData['counters']> {
  if (tap !== null) spawnSync('ip', ['netns', 'exec', h.ns, 'sh', '-c', `echo 1 > /proc/sys/net/ipv6/conf/${tap}/disable_ipv6`]);
  let last = JSON.stringify(counters(h));
  let same = 0;
  await waitFor(`${h.name}'s counters to settle`, () => {
    const now = JSON.stringify(counters(h));
    same = now === last ? same + 1 : 0;
    last = now;
    return same >= 10;
  }, 60_000, 300);
  return JSON.parse(last) as StatsData['counters'];
}

async function explainJson(lab: (cmd: string, a?: string[]) => Promise<LabResult>, host: string, args: string[]): Promise<ExplainOutput> {
  const r = await lab('explain', [host, ...args, '--json']);
  assert.equal(r.status, 0, `lab explain ${host} ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ExplainOutput;
}

test('routed lab: encap to the peer with its etcd key, revisions and lease TTL; no route; another VNI; no counter moves', { timeout: 240_000 }, async (t) => {
  const s = await labUp(t, nsPrefix('vxt-xpl-'), ['--hosts', '2']);
  if (s === null) return;
  const { st, lab } = s;
  const [h1, h2] = st.hosts as [LabJson['hosts'][number], LabJson['hosts'][number]];
  const before = await settled(h1, 'vxtap.1');

  await t.test('(a) a ping to the peer\'s container: encap to its VTEP; the lease\'s key, revisions and lease as etcd has them', async () => {
    const out = await explainJson(lab, 'h1', ['--from-tap', `icmp ${h1.containerIp} > ${h2.containerIp}`]);
    assert.equal(out.kernel?.reachesVxtap, true, JSON.stringify(out.kernel));
    assert.match(out.kernel!.route!, new RegExp(`^${h2.subnet!.replace(/\./g, '\\.')} via ${h2.subnet!.split('/')[0]!.replace(/\./g, '\\.')} dev vxtap\\.1 onlink proto 118`));
    assert.equal(out.nextHop?.verdict, 'arp-reply', 'vxtap answers the kernel\'s ARP for the next hop');
    // The kernel's own neighbour entry for that next hop: none yet, or the VTEP MAC vxtap answered with.
    const gw = h2.subnet!.split('/')[0]!;
    assert.match(out.kernel!.neighbour ?? '', new RegExp(`^ip neigh show ${gw.replace(/\./g, '\\.')} dev vxtap\\.1: (no entry|${gw.replace(/\./g, '\\.')} lladdr ${h2.vtepMac} )`), out.kernel!.neighbour);
    const e = out.explain!;
    assert.equal(e.verdict, 'encap');
    assert.equal(e.trace.encap?.vtep, h2.ip);
    assert.equal(e.trace.layers[0]!.summary, `Ethernet ${macFromIp(h1.ip)} > ${macFromIp(h2.ip)} type IPv4`);
    const key = `/coreos.com/network/subnets/${h2.subnet!.replace('/', '-')}`;
    const fdb = e.sources.find((x) => x.entry.startsWith('FDB'));
    assert.ok(fdb !== undefined, JSON.stringify(e.sources));
    assert.equal(fdb.kind, 'etcd');
    assert.equal(fdb.origin?.kind === 'etcd' ? fdb.origin.key : null, key);
    const got = spawnSync('ip', ['netns', 'exec', st.etcd.ns, 'etcdctl', '--endpoints', st.etcd.endpoint, 'get', key, '-w', 'json'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });
    assert.equal(got.status, 0, got.stderr);
    // The lease ID is an int64: read it as text (JSON.parse would round it).
    const num = (field: string): string => new RegExp(`"${field}":(\\d+)`).exec(got.stdout)?.[1] ?? 'absent';
    assert.equal(String(fdb.etcd?.modRevision), num('mod_revision'));
    assert.equal(String(fdb.etcd?.createRevision), num('create_revision'));
    assert.equal(fdb.etcd?.lease, num('lease'));
    assert.ok(fdb.etcd!.ttl! > 0 && fdb.etcd!.ttl! <= fdb.etcd!.grantedTtl!, `TTL ${fdb.etcd!.ttl} of ${fdb.etcd!.grantedTtl}`);
    assert.match(fdb.text, new RegExp(`from etcd key ${key.replace(/\./g, '\\.')} \\(mod revision ${num('mod_revision')}, create revision ${num('create_revision')}, lease ${num('lease')} .*TTL \\d+ s of \\d+ s\\)`));
    assert.ok(e.peerChecks.some((c) => c.startsWith('VNI 1')), e.peerChecks.join('\n'));
    // The text says the same, in the trace's words.
    const text = await lab('explain', ['h1', '--from-tap', `icmp ${h1.containerIp} > ${h2.containerIp}`]);
    assert.match(text.stdout, /lookup {2}FDB hit .* → VTEP /);
    assert.match(text.stdout, new RegExp(`source {4}FDB .*from etcd key ${key.replace(/\./g, '\\.')}`));
  });

  await t.test('(b) a ping to a subnet nobody leased never reaches vxtap: the default route takes it', async () => {
    const taken = new Set(st.hosts.map((h) => h.subnet));
    let n = 250;
    while (taken.has(`10.44.${n}.0/24`)) n--;
    const out = await explainJson(lab, 'h1', ['--from-tap', `icmp ${h1.containerIp} > 10.44.${n}.2`]);
    assert.equal(out.explain, null);
    assert.equal(out.kernel?.reachesVxtap, false);
    assert.match(out.kernel!.route!, /^default /);
    assert.match(out.stop!, /never reaches vxtap: the kernel routes it via eth0 \(default .*\), the default route/);
  });

  await t.test('(c) a datagram with another VNI explains as the vxlan-unknown-vni drop; a bad spec exits 2', async () => {
    const out = await explainJson(lab, 'h1', ['--from-net', `vxlan vni 99 from ${h2.ip} : icmp ${h2.containerIp} > ${h1.containerIp}`]);
    assert.equal(out.explain?.verdict, 'drop');
    assert.deepEqual(out.explain?.drop, { name: 'vxlan-unknown-vni', explanation: 'another VNI' });
    assert.ok(out.explain!.trace.lookups.some((l) => l.table === 'vni' && !l.hit), JSON.stringify(out.explain!.trace.lookups));
    const bad = await lab('explain', ['h1', '--from-tap', 'icmp 10.44.1.2 >']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /the destination: expected an IPv4 address/);
  });

  await t.test('(f) explaining moved no counter of the daemon', () => {
    assert.deepEqual(counters(h1), before);
  });
});

test('L2 lab: an unknown MAC explains as a flood to the other VTEPs, each named by its etcd key; no counter moves', { timeout: 240_000 }, async (t) => {
  const s = await labUp(t, nsPrefix('vxt-xpm-'), ['--mode', 'l2', '--hosts', '3']);
  if (s === null) return;
  const { st, lab } = s;
  const h1 = st.hosts[0]!;
  const before = await settled(h1, null); // the TAP is a bridge port: the containers' IPv6 crosses it; wait it out
  const out = await explainJson(lab, 'h1', ['--from-tap', `ether ${h1.containerMac} > 02:99:99:99:99:99 : icmp ${h1.containerIp} > 10.45.0.99`]);
  const e = out.explain!;
  assert.equal(e.mode, 'l2');
  assert.equal(e.verdict, 'flood');
  const others = st.hosts.slice(1).map((h) => h.ip).sort();
  assert.deepEqual([...e.trace.flood!.vteps].sort(), others);
  const flood = e.sources.filter((x) => x.entry.startsWith('flood list'));
  assert.equal(flood.length, 2);
  for (const f of flood) {
    assert.equal(f.kind, 'etcd');
    assert.match(f.origin?.kind === 'etcd' ? f.origin.key : '', /^\/coreos\.com\/network\/l2\/1\/vteps\/192\.168\.\d+\.\d+$/);
    assert.ok(f.etcd !== null && f.etcd!.ttl! > 0, JSON.stringify(f));
  }
  assert.deepEqual(counters(h1), before, 'explaining moved no counter');
});

test('a static peers file: the FDB entry names the file and the line of the peer\'s entry', { timeout: 120_000 }, async (t) => {
  if (!needNamespaces(t)) return;
  const lab = new Lab(nsPrefix('vxt-xpf-'));
  const dir = mkdtempSync(join(base, 'static-'));
  let d: Daemon | null = null;
  try {
    lab.underlay('u', { h1: '192.168.90.1/24', h2: '192.168.90.2/24' });
    lab.exec('h1', ['ip', 'route', 'add', 'default', 'dev', 'eth0']);
    const file = join(dir, 'h1.json');
    // Pretty-printed: self on lines 2-4, peers[0] opens on line 7.
    writeFileSync(file, JSON.stringify({ vni: 42, self: { subnet: '10.44.1.0/24' }, peers: [{ subnet: '10.44.2.0/24', publicIp: '192.168.90.2' }] }, null, 2));
    d = new Daemon(lab, 'h1', ['--peers', file]);
    await d.waitLog(/^control socket /);
    const r = lab.tryExec('h1', [process.execPath, VXTAP, 'explain', '--from-tap', 'icmp 10.44.1.0 > 10.44.2.5', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const e = (JSON.parse(r.stdout) as ExplainOutput).explain!;
    assert.equal(e.verdict, 'encap');
    const fdb = e.sources.find((x) => x.entry.startsWith('FDB'))!;
    assert.deepEqual(fdb.origin, { kind: 'file', path: file, line: 7 });
    assert.equal(fdb.text, `FDB ${macFromIp('192.168.90.2')} -> 192.168.90.2:4789 (static): from ${file} line 7`);
  } finally {
    await d?.stop().catch(() => -1);
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
