/**
 * A real etcd for a test file (Debian's etcd-server, /usr/bin/etcd).
 *
 * Rules, as for namespaces (see netns.ts):
 * - Each EtcdServer has its own free loopback ports and its own data dir in a
 *   fresh temp dir, so test files can run side by side.
 * - `stop()` kills it by pid and removes the data dir; the same happens on
 *   process exit, so a failed test leaves nothing behind.
 * - Where /usr/bin/etcd is missing, a test skips with the reason, except under
 *   CI=true, where it fails.
 *
 * Outages: `pause()`/`resume()` freeze the process (SIGSTOP/SIGCONT: the
 * port still accepts TCP connections but nothing answers, like a hung host);
 * `kill()`/`start()` stop it and start it again on the same data dir and
 * ports (connections are refused in between, like a crashed etcd).
 * `EtcdProxy` cuts only one client's connections while etcd stays up.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import type { Etcd3 } from 'etcd3';
import { createEtcdClient } from '../../src/control/etcd/client';
import { subnetKey } from '../../src/control/etcd/network-config';
import { inCI } from './netns';

export const ETCD_BIN = process.env.VXTAP_ETCD ?? '/usr/bin/etcd';
export const ETCDCTL_BIN = process.env.VXTAP_ETCDCTL ?? '/usr/bin/etcdctl';

const execFileP = promisify(execFile);

/** Why etcd tests cannot run here, or null when they can. */
export function etcdBlocker(): string | null {
  if (!existsSync(ETCD_BIN)) return `no ${ETCD_BIN} (apt-get install etcd-server etcd-client)`;
  if (!existsSync(ETCDCTL_BIN)) return `no ${ETCDCTL_BIN} (apt-get install etcd-client)`;
  return null;
}

/** Call first in an etcd test. Returns true when the test may go on; skips outside CI, throws under CI=true. */
export function needEtcd(t: TestContext): boolean {
  const why = etcdBlocker();
  if (why === null) return true;
  if (inCI) throw new Error(`etcd test cannot run under CI=true: ${why}`);
  t.skip(why);
  return false;
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export interface EtcdServerOptions {
  /** Run etcd (and etcdctl) inside this network namespace (`ip netns exec`). */
  readonly netns?: string;
  /** The address etcd listens on. Default 127.0.0.1. */
  readonly host?: string;
  /** Fixed ports. Default: free loopback ports (in a namespace: 2379 and clientPort + 1). */
  readonly clientPort?: number;
  readonly peerPort?: number;
}

export class EtcdServer {
  readonly dir: string;
  private child: ChildProcess | null = null;
  private log = '';
  private clientPort: number;
  private peerPort: number;
  private readonly fixedPorts: boolean;
  private readonly host: string;
  private paused = false;
  private readonly onExit = (): void => this.cleanupSync();

  constructor(private readonly opts: EtcdServerOptions = {}) {
    this.host = opts.host ?? '127.0.0.1';
    const dflt = opts.netns !== undefined ? 2379 : 0;
    this.clientPort = opts.clientPort ?? dflt;
    this.peerPort = opts.peerPort ?? (this.clientPort ? this.clientPort + 1 : 0);
    this.fixedPorts = this.clientPort !== 0;
    this.dir = mkdtempSync(join(tmpdir(), 'vxtap-etcd-'));
    process.once('exit', this.onExit);
  }

  /** http://HOST:P, the client URL. */
  get endpoint(): string {
    return `http://${this.host}:${this.clientPort}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last lines etcd wrote (for a failure message). */
  tail(lines = 30): string {
    return this.log.split('\n').slice(-lines).join('\n');
  }

  /**
   * Starts etcd (again, on the same ports and data dir after kill()) and
   * waits until it answers. Ports are picked on the first start; a port taken
   * between picking and binding is retried with fresh ports.
   */
  async start(): Promise<void> {
    if (this.child) throw new Error('etcd is already running');
    const fresh = !this.fixedPorts && this.clientPort === 0;
    for (let attempt = 0; ; attempt++) {
      if (fresh) {
        this.clientPort = await freePort();
        this.peerPort = await freePort();
        if (this.clientPort === this.peerPort) continue;
      }
      try {
        await this.spawnAndWait();
        return;
      } catch (err) {
        await this.kill();
        if (!fresh || attempt >= 3 || !/address already in use/.test(this.log)) throw err;
      }
    }
  }

  private async spawnAndWait(): Promise<void> {
    const client = `http://${this.host}:${this.clientPort}`;
    const peer = `http://${this.host}:${this.peerPort}`;
    this.log = '';
    const [cmd, pre] = this.inNetns(ETCD_BIN);
    const child = spawn(cmd, [...pre,
      '--name', 'default',
      '--data-dir', join(this.dir, 'data'),
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `default=${peer}`,
      '--initial-cluster-state', 'new',
      // Tests use fast gRPC keepalives to find a frozen etcd; allow them.
      '--grpc-keepalive-min-time', '200ms',
      '--logger', 'zap', '--log-outputs', 'stderr',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.paused = false;
    const collect = (d: Buffer): void => {
      this.log += d.toString();
      if (this.log.length > 200_000) this.log = this.log.slice(-100_000);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    child.once('exit', () => { if (this.child === child) this.child = null; });
    const end = Date.now() + 15000;
    for (;;) {
      if (this.child !== child) throw new Error(`etcd exited at start:\n${this.tail()}`);
      try {
        await this.ctl(['endpoint', 'health'], 2000);
        return;
      } catch {
        if (Date.now() > end) throw new Error(`etcd did not answer within 15 s:\n${this.tail()}`);
        await sleep(100);
      }
    }
  }

  /** Runs etcdctl against this etcd and returns stdout. */
  async ctl(args: string[], timeoutMs = 10000): Promise<string> {
    const [cmd, pre] = this.inNetns(ETCDCTL_BIN);
    const { stdout } = await execFileP(cmd, [...pre, '--endpoints', this.endpoint, '--dial-timeout', '2s', ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      timeout: timeoutMs,
    });
    return stdout;
  }

  /** A command, run inside the namespace when there is one (`ip netns exec` execs it: same pid). */
  private inNetns(bin: string): [string, string[]] {
    return this.opts.netns !== undefined ? ['ip', ['netns', 'exec', this.opts.netns, bin]] : [bin, []];
  }

  /** The current store revision. */
  async revision(): Promise<number> {
    const out = await this.ctl(['endpoint', 'status', '-w', 'json']);
    const doc = JSON.parse(out) as { Status: { header: { revision: number } } }[];
    return Number(doc[0]!.Status.header.revision);
  }

  /** Compacts the history up to `revision` (default: the current revision). */
  async compact(revision?: number): Promise<number> {
    const rev = revision ?? (await this.revision());
    await this.ctl(['compaction', '--physical', String(rev)]);
    return rev;
  }

  /** SIGSTOP: etcd stops answering, connections stay open. */
  pause(): void {
    if (!this.child || this.paused) return;
    this.child.kill('SIGSTOP');
    this.paused = true;
  }

  /** SIGCONT after pause(). */
  resume(): void {
    if (!this.child || !this.paused) return;
    this.child.kill('SIGCONT');
    this.paused = false;
  }

  /** Kills etcd (SIGKILL) and waits for it to exit; the data dir stays for start(). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      if (this.paused) child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    }
    this.child = null;
    this.paused = false;
  }

  /** Kills etcd and removes its data dir. Idempotent. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
    process.removeListener('exit', this.onExit);
  }

  private cleanupSync(): void {
    if (this.child?.pid) {
      try { process.kill(this.child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Starts an etcd for a test file; returns null (after t.skip) when etcd is missing outside CI. */
export async function startEtcd(t: TestContext): Promise<EtcdServer | null> {
  if (!needEtcd(t)) return null;
  const etcd = new EtcdServer();
  try {
    await etcd.start();
  } catch (err) {
    await etcd.stop();
    throw err;
  }
  return etcd;
}

/**
 * A TCP proxy on a free loopback port in front of etcd. `cut()` destroys the
 * open connections and refuses new ones (reset), `restore()` lets them
 * through again: one client loses etcd while etcd stays up for the others.
 */
export class EtcdProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private port = 0;
  private isCut = false;

  constructor(private readonly target: { host: string; port: number }) {}

  static forEndpoint(endpoint: string): EtcdProxy {
    const u = new URL(endpoint);
    return new EtcdProxy({ host: u.hostname, port: Number(u.port) });
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = createServer((down) => {
      if (this.isCut) { down.destroy(); return; }
      const up = connect(this.target.port, this.target.host);
      this.sockets.add(down);
      this.sockets.add(up);
      const drop = (): void => {
        down.destroy(); up.destroy();
        this.sockets.delete(down); this.sockets.delete(up);
      };
      down.on('error', drop).on('close', drop);
      up.on('error', drop).on('close', drop);
      down.pipe(up);
      up.pipe(down);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    this.server = server;
  }

  /** Drops every open connection and refuses new ones until restore(). */
  cut(): void {
    this.isCut = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  restore(): void {
    this.isCut = false;
  }

  async stop(): Promise<void> {
    this.cut();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * One etcd per test file, started by the first test that asks for it, and
 * what tests create against it (clients, sources, keepers), all stopped by
 * `stop()` (register it with node:test's top-level `after`). Tests share the
 * etcd but not keys: each takes its own prefix from `prefix()`.
 *
 *   const fx = new EtcdFixture();
 *   after(() => fx.stop());
 *   test('...', async (t) => { const etcd = await fx.etcd(t); if (!etcd) return; ... });
 */
export class EtcdFixture {
  private server: EtcdServer | null = null;
  private starting: Promise<EtcdServer> | null = null;
  private readonly cleanups: (() => unknown)[] = [];
  private n = 0;

  /** The file's etcd (started on first use); null after t.skip when etcd is missing outside CI. */
  async etcd(t: TestContext): Promise<EtcdServer | null> {
    if (!needEtcd(t)) return null;
    if (!this.starting) {
      const s = new EtcdServer();
      this.starting = s.start().then(() => s, async (err: unknown) => { await s.stop(); throw err; });
      this.server = s;
    }
    return this.starting;
  }

  /** A fresh key prefix for one test, e.g. '/t3/coreos.com/network'. */
  prefix(): string {
    return `/t${++this.n}/coreos.com/network`;
  }

  /** Runs `fn` at stop(), latest first (close sources before their client). */
  defer(fn: () => unknown): void {
    this.cleanups.push(fn);
  }

  async stop(): Promise<void> {
    while (this.cleanups.length > 0) {
      const fn = this.cleanups.pop()!;
      try { await fn(); } catch { /* keep cleaning */ }
    }
    await this.server?.stop();
  }
}

/** Resolves when `pred()` is true, polling every `everyMs`; rejects with `what` after `timeoutMs`. */
export async function until(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 5000, everyMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await pred()) return;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Things a test opens, closed in reverse order when it ends (pass or fail):
 *   const use = closer(t); const client = use(createEtcdClient(...), (c) => c.close());
 */
export function closer(t: TestContext): <T>(x: T, close: (x: T) => unknown) => T {
  const stack: (() => unknown)[] = [];
  t.after(async () => {
    while (stack.length > 0) {
      try { await stack.pop()!(); } catch { /* keep closing */ }
    }
  });
  return (x, close) => {
    stack.push(() => close(x));
    return x;
  };
}

/** A client for tests: fast keepalives (etcd here allows them) and short deadlines, so outages show quickly. */
export function testClient(endpoint: string): Etcd3 {
  return createEtcdClient({ endpoints: [endpoint], keepaliveMs: 1000, keepaliveTimeoutMs: 1000, callTimeoutMs: 2000 });
}

/** Writes a key with etcdctl on a fresh etcd lease of `ttl` seconds, as an operator or flannel would. Returns the lease ID (hex). */
export async function ctlPutWithLease(etcd: EtcdServer, key: string, value: string, ttl: number): Promise<string> {
  const out = await etcd.ctl(['lease', 'grant', String(ttl)]);
  const m = /lease ([0-9a-f]+) granted/.exec(out);
  if (!m) throw new Error(`etcdctl lease grant: unexpected output ${JSON.stringify(out)}`);
  await etcd.ctl(['put', `--lease=${m[1]}`, key, value]);
  return m[1]!;
}

/** A lease value exactly as flannel writes it (what etcdctl-written interop leases look like). */
export function flannelLease(ip: string, mac: string, vni = 1): string {
  return `{"PublicIP":"${ip}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":${vni},"VtepMAC":"${mac}"}}`;
}

/** One test's view of the file's etcd: a client, a fresh prefix, subnet keys under it. */
export interface PrefixCtx {
  etcd: EtcdServer;
  client: Etcd3;
  prefix: string;
  key: (subnet: string) => string;
  use: ReturnType<typeof closer>;
}

/**
 * The fixture's etcd, a client closed after the test, and a fresh prefix.
 * `restoreEtcd`: whatever the test does to etcd (pause, kill), the next test
 * finds it running. Null when etcd tests cannot run here (skipped).
 */
export async function prefixCtx(fx: EtcdFixture, t: TestContext, opts: { restoreEtcd?: boolean } = {}): Promise<PrefixCtx | null> {
  const etcd = await fx.etcd(t);
  if (!etcd) return null;
  const use = closer(t);
  if (opts.restoreEtcd) t.after(async () => { etcd.resume(); if (etcd.pid === undefined) await etcd.start(); });
  const client = use(testClient(etcd.endpoint), (c) => c.close());
  const prefix = fx.prefix();
  return { etcd, client, prefix, key: (s) => `${prefix}/subnets/${subnetKey(s)}`, use };
}
