/**
 * `npm run bench:control` (root, after `npm run build`): the control plane at
 * scale. One namespace `vxbc-h` holds a real etcd (Debian's, on the
 * namespace's loopback), a `vxtap run` daemon on a TAP, and this driver,
 * which writes N simulated leases (flannel's layout) straight into etcd.
 *
 *   node dist/bench/control/leases.js [--leases N] [--samples M] [--json FILE] [--timeout S] [--vxtap PATH]
 *
 *   --leases N   leases bulk-put at once (default 5000)
 *   --samples M  single lease adds and removes timed one at a time (default 100)
 *   --json FILE  also write the figures as JSON
 *   --timeout S  the whole run is killed after S seconds (default 600)
 *   --vxtap PATH the daemon to run (default this checkout's bin/vxtap.js): a
 *                build of another commit, to compare two versions on one machine
 *
 * What it measures, in this order:
 *   1. bulk:    the daemon is up with no peers; N leases are put (200 puts
 *               in flight); the time from the first put until the kernel
 *               holds a route through the TAP for every one of them;
 *   2. single:  M times, one lease put, then deleted: the time from the put
 *               (the delete) until its route appears in (leaves) the kernel's
 *               table, as p50 and p99;
 *   3. RSS:     the daemon's resident set with N peers installed;
 *   4. restart: the daemon is stopped (SIGTERM) and started again with the N
 *               leases in etcd: the time until every route is back, and the
 *               size of its log (lines, bytes; JSON, as `vxtap run` writes
 *               when stdout is not a terminal) by then: the start-up log.
 *
 * Routes are seen by `ip -o monitor route` (rtnetlink's route group), not by
 * polling: a route counts as there when the kernel announces it. Routes are
 * matched by their device, so the figures compare across versions that
 * install them with different route protocols.
 *
 * Everything lives in namespaces named `vxbc-*`, removed on exit (also on a
 * failure, a timeout or Ctrl-C); no traffic leaves them. The driver runs
 * inside the namespace (this file re-runs itself under `ip netns exec`)
 * because etcd listens on the namespace's loopback.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../../src/control/etcd/client';
import { macFromIp } from '../../src/control/peers';
import { EtcdServer, etcdBlocker, flannelLease } from '../../test/helpers/etcd';
import { Lab, namespaceBlocker } from '../../test/helpers/netns';

const NS_PREFIX = 'vxbc-';
const HOST = 'h';
const TAP = 'vxtap.1';
const PREFIX = '/coreos.com/network';
const NETWORK = '10.0.0.0/8';
const OWN_VXTAP = join(__dirname, '..', '..', '..', 'bin', 'vxtap.js');
const PUTS_IN_FLIGHT = 200;

interface Args { leases: number; samples: number; json: string | null; timeoutS: number; vxtap: string; inner: boolean }

function parseArgs(argv: string[]): Args {
  const a: Args = { leases: 5000, samples: 100, json: null, timeoutS: 600, vxtap: OWN_VXTAP, inner: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--leases') a.leases = positive(k, v());
    else if (k === '--samples') a.samples = positive(k, v());
    else if (k === '--timeout') a.timeoutS = positive(k, v());
    else if (k === '--json') a.json = v();
    else if (k === '--vxtap') a.vxtap = v();
    else if (k === '--inner') a.inner = true;
    else throw new Error(`unknown argument ${k} (see the header of bench/control/leases.ts)`);
  }
  if (a.leases > 60000) throw new Error('--leases: at most 60000 (the /24s of 10.0.0.0/8 that the generator uses)');
  return a;
}

function positive(k: string, s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${k}: a positive integer, got ${JSON.stringify(s)}`);
  return n;
}

// ---- outside the namespace: make it, run the driver in it, remove it ------

async function outer(args: Args): Promise<number> {
  const why = namespaceBlocker() ?? etcdBlocker();
  if (why !== null) {
    process.stderr.write(`bench:control cannot run here: ${why}\n`);
    return 2;
  }
  const lab = new Lab(NS_PREFIX);
  const stop = (): void => { void lab.cleanup().then(() => process.exit(130)); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    lab.addNs(HOST);
    // The underlay: one end of a veth pair, both ends up (carrier), a default route through it.
    lab.exec(HOST, ['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
    lab.exec(HOST, ['ip', 'link', 'set', 'eth1', 'up']);
    lab.exec(HOST, ['ip', 'link', 'set', 'eth0', 'up']);
    lab.exec(HOST, ['ip', 'addr', 'add', '192.168.90.1/24', 'dev', 'eth0']);
    lab.exec(HOST, ['ip', 'route', 'add', 'default', 'via', '192.168.90.254', 'dev', 'eth0']);
    const child = lab.spawn(HOST, [process.execPath, __filename, '--inner', ...process.argv.slice(2)], { stdio: 'inherit' });
    const timer = setTimeout(() => {
      process.stderr.write(`bench:control: no result after ${args.timeoutS} s; stopping\n`);
      child.kill('SIGKILL');
    }, args.timeoutS * 1000);
    const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
    clearTimeout(timer);
    return code;
  } finally {
    await lab.cleanup();
  }
}

// ---- inside the namespace ---------------------------------------------------

/** Kernel route events through the TAP, as `ip -o monitor route` prints them. */
class RouteMonitor {
  /** Destinations with a route through the TAP now (as far as announcements go). */
  readonly present = new Set<string>();
  private waiters: { pred: () => boolean; resolve: () => void }[] = [];
  private readonly child: ChildProcess;
  /** When each destination was last added / deleted (performance.now()). */
  readonly addedAt = new Map<string, number>();
  readonly deletedAt = new Map<string, number>();

  constructor() {
    this.child = spawn('ip', ['-o', 'monitor', 'route'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const rl = createInterface({ input: this.child.stdout! });
    rl.on('line', (line) => this.onLine(line));
  }

  private onLine(line: string): void {
    const now = performance.now();
    const deleted = line.startsWith('Deleted ');
    const words = (deleted ? line.slice(8) : line).trim().split(/\s+/);
    const dev = words.indexOf('dev');
    if (dev < 0 || words[dev + 1] !== TAP) return;
    const dst = words[0]!;
    if (deleted) {
      this.present.delete(dst);
      this.deletedAt.set(dst, now);
    } else {
      this.present.add(dst);
      this.addedAt.set(dst, now);
    }
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred()) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves when pred() holds after some announcement (or at once); rejects after timeoutMs. */
  until(what: string, pred: () => boolean, timeoutMs: number): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${this.present.size} routes through ${TAP})`));
      }, timeoutMs);
      const waiter = { pred, resolve: () => { clearTimeout(timer); resolve(); } };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    this.child.kill();
  }
}

/** A `vxtap run` daemon: its JSON log lines counted (lines, bytes) as they come. */
class Daemon {
  readonly child: ChildProcess;
  lines = 0;
  bytes = 0;
  subnet: string | null = null;
  upAt: number | null = null;
  exited: number | null = null;
  private partial = '';
  private readonly errs: string[] = [];

  constructor(vxtap: string, endpoint: string, subnetFile: string) {
    this.child = spawn(process.execPath, [vxtap, 'run', '--etcd-endpoints', endpoint, '--iface', 'eth0', '--tap', TAP,
      '--subnet-file', subnetFile, '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d: Buffer) => this.onData(d));
    this.child.stderr!.on('data', (d: Buffer) => { this.errs.push(d.toString()); });
    this.child.once('exit', (code, sig) => { this.exited = code ?? (sig ? 128 : -1); });
  }

  private onData(d: Buffer): void {
    this.bytes += d.length;
    const text = this.partial + d.toString();
    const parts = text.split('\n');
    this.partial = parts.pop()!;
    for (const line of parts) {
      this.lines++;
      if (this.upAt === null && line.includes('"vxtap is up')) {
        this.upAt = performance.now();
        const m = /"subnet":"([0-9./]+)"/.exec(line);
        this.subnet = m ? m[1]! : null;
      }
    }
  }

  async waitUp(timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.upAt === null) {
      if (this.exited !== null) throw new Error(`vxtap exited with ${this.exited}: ${this.errs.join('')}`);
      if (Date.now() > end) throw new Error(`vxtap not up after ${timeoutMs} ms: ${this.errs.join('')}`);
      await sleep(20);
    }
  }

  /** Resident set size now, MB (VmRSS). */
  rssMb(): number {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : NaN;
  }

  async stop(timeoutMs: number): Promise<void> {
    if (this.exited !== null) return;
    const done = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await done;
    clearTimeout(timer);
  }
}

interface Lease { subnet: string; key: string; value: string }

/** The i-th simulated lease: 10.x.y.0/24 from 10.1.0.0 on, a public IP in 172.16.0.0/12, a derived VTEP MAC. */
function lease(i: number): Lease {
  const n = i + 256; // from 10.1.0.0/24 on
  const subnet = `10.${n >> 8}.${n & 255}.0/24`;
  const ip = `172.${16 + Math.floor(i / 62500)}.${(Math.floor(i / 250) % 250) + 1}.${(i % 250) + 1}`;
  return { subnet, key: `${PREFIX}/subnets/10.${n >> 8}.${n & 255}.0-24`, value: flannelLease(ip, macFromIp(ip)) };
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

async function putAll(client: Etcd3, leases: Lease[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < leases.length) {
      const l = leases[next++]!;
      await client.put(l.key).value(l.value);
    }
  };
  await Promise.all(Array.from({ length: PUTS_IN_FLIGHT }, worker));
}

async function inner(args: Args): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'vxbc-'));
  const etcd = new EtcdServer();
  let client: Etcd3 | null = null;
  let monitor: RouteMonitor | null = null;
  let daemon: Daemon | null = null;
  const say = (s: string): void => { process.stdout.write(`${s}\n`); };
  try {
    await etcd.start();
    client = createEtcdClient({ endpoints: [etcd.endpoint], callTimeoutMs: 30000 });
    await client.put(`${PREFIX}/config`).value(JSON.stringify({ Network: NETWORK, SubnetLen: 24, Backend: { Type: 'vxlan', VNI: 1, Port: 4789 } }));
    monitor = new RouteMonitor();
    await sleep(200); // the monitor subscribes before anything is routed

    daemon = new Daemon(args.vxtap, etcd.endpoint, join(dir, 'subnet.env'));
    await daemon.waitUp(30000);
    const own = daemon.subnet;
    const leases: Lease[] = [];
    for (let i = 0; leases.length < args.leases; i++) {
      const l = lease(i);
      if (l.subnet !== own) leases.push(l);
    }
    const spare: Lease[] = [];
    for (let i = args.leases + 1; spare.length < args.samples; i++) {
      const l = lease(i);
      if (l.subnet !== own) spare.push(l);
    }
    say(`vxtap is up (subnet ${own}); putting ${args.leases} leases into etcd, ${PUTS_IN_FLIGHT} in flight`);

    // 1. bulk
    const bulkLogFrom = { lines: daemon.lines, bytes: daemon.bytes };
    const t0 = performance.now();
    await putAll(client, leases);
    const putMs = performance.now() - t0;
    const wanted = leases.map((l) => l.subnet);
    const m = monitor;
    await m.until(`${args.leases} routes`, () => wanted.every((s) => m.present.has(s)), 300_000);
    const bulkMs = Math.max(...wanted.map((s) => m.addedAt.get(s)!)) - t0;
    await sleep(500); // the log lines written after the last route
    const bulkLog = { lines: daemon.lines - bulkLogFrom.lines, bytes: daemon.bytes - bulkLogFrom.bytes };
    say(`  bulk: puts took ${round(putMs)} ms; every route in place ${round(bulkMs)} ms after the first put; log ${bulkLog.lines} lines, ${bulkLog.bytes} B`);

    // 2. single adds and removes
    const addMs: number[] = [];
    const delMs: number[] = [];
    for (const l of spare) {
      let t = performance.now();
      await client.put(l.key).value(l.value);
      await m.until(`route ${l.subnet}`, () => m.present.has(l.subnet), 30000);
      addMs.push(m.addedAt.get(l.subnet)! - t);
      t = performance.now();
      await client.delete().key(l.key);
      await m.until(`no route ${l.subnet}`, () => !m.present.has(l.subnet), 30000);
      delMs.push(m.deletedAt.get(l.subnet)! - t);
    }
    const single = {
      addP50Ms: round(percentile(addMs, 50), 2), addP99Ms: round(percentile(addMs, 99), 2),
      removeP50Ms: round(percentile(delMs, 50), 2), removeP99Ms: round(percentile(delMs, 99), 2),
    };
    say(`  single (${args.samples} each): add p50 ${single.addP50Ms} ms, p99 ${single.addP99Ms} ms; remove p50 ${single.removeP50Ms} ms, p99 ${single.removeP99Ms} ms`);

    // 3. RSS with every peer installed
    const rssMb = daemon.rssMb();
    const kernelRoutes = runCount(['ip', 'route', 'show', 'dev', TAP]);
    say(`  RSS ${rssMb} MB with ${kernelRoutes} routes through ${TAP}`);

    // 4. restart with the leases in etcd
    await daemon.stop(30000);
    await m.until('the routes removed on SIGTERM', () => m.present.size === 0, 60000);
    const t1 = performance.now();
    daemon = new Daemon(args.vxtap, etcd.endpoint, join(dir, 'subnet.env'));
    await m.until(`${args.leases} routes after the restart`, () => wanted.every((s) => m.present.has(s)), 300_000);
    const restartMs = Math.max(...wanted.map((s) => m.addedAt.get(s)!)) - t1;
    await daemon.waitUp(30000);
    await sleep(500);
    const startupLog = { lines: daemon.lines, bytes: daemon.bytes };
    const rssAfterRestartMb = daemon.rssMb();
    say(`  restart: every route back ${round(restartMs)} ms after the start; start-up log ${startupLog.lines} lines, ${startupLog.bytes} B; RSS ${rssAfterRestartMb} MB`);

    const result = {
      date: new Date().toISOString(), vxtap: args.vxtap, leases: args.leases, samples: args.samples,
      bulk: { putMs: round(putMs), allRoutesMs: round(bulkMs), log: bulkLog },
      single, rssMb, kernelRoutes,
      restart: { allRoutesMs: round(restartMs), startupLog, rssMb: rssAfterRestartMb },
    };
    say(JSON.stringify(result));
    if (args.json !== null) writeFileSync(args.json, `${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`bench:control failed: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  } finally {
    if (daemon) await daemon.stop(10000);
    monitor?.close();
    client?.close();
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Lines a command prints (in this namespace). */
function runCount(cmd: string[]): number {
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.trim() !== '').length;
}

if (require.main === module) {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench:control: ${(err as Error).message}\n`);
    process.exit(2);
  }
  void (args.inner ? inner(args) : outer(args)).then((code) => { process.exitCode = code; });
}
