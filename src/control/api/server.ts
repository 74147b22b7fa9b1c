/**
 * The daemon's side of the control API (protocol.ts): a Unix socket server
 * that answers fdb / arp / peers / stats from the running node.
 *
 * Start-up: the directory is made 0700 (paths.ts), a socket file left by a
 * crashed daemon is replaced, but only after a connect to it was refused (a
 * live daemon on the path is an error, never displaced), and the socket is
 * made 0600 (under a umask, then chmod). close() ends open connections and
 * removes the socket file, if it is still ours.
 *
 * A client can never hurt the daemon: every answer is built synchronously in
 * a try/catch, bad lines get an error response, a runaway line closes its
 * connection, and idle connections are closed after IDLE_MS.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { chmodSync, lstatSync, rmdirSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import {
  CONTROL_ERR, COMMANDS, ControlError, LineDecoder, decodeRequestFields, encodeError, encodeOk, isCommand, type ControlCommand,
} from './protocol';
import { CONTROL_DIR, checkSocketPathLength, prepareSocketDir, socketPathFor } from './paths';
import { arpRows, fdbRows, peerRows, statsData, type DaemonInfo, type Inspectable } from './views';
import { explainRequest, type ExplainData } from './explain';

const IDLE_MS = 60_000;
const PROBE_MS = 1000;

export interface ControlServerOptions {
  node: Inspectable;
  info: DaemonInfo;
  /** The socket path; default: the TAP's socket in this namespace's directory under /run/vxtap (paths.ts). */
  path?: string;
  log: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>;
  /** The clock (ms since epoch), for ages and uptime; tests pass their own. */
  now?: () => number;
}

export class ControlServer {
  private readonly conns = new Set<Socket>();
  private readonly server: Server;
  private closing: Promise<void> | null = null;
  private readonly startedAt: number;
  private readonly now: () => number;
  /** The inode of the socket file we made: close() removes only that one. */
  private ino = -1;

  private constructor(readonly path: string, private readonly opts: ControlServerOptions) {
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
    this.server = createServer((sock) => this.serve(sock));
  }

  /** Listens on the socket. Throws ControlError: IN_USE (a live daemon has the path), PATH (unusable path). */
  static async start(opts: ControlServerOptions): Promise<ControlServer> {
    const path = opts.path ?? socketPathFor(opts.node.tapName);
    checkSocketPathLength(path);
    prepareSocketDir(dirname(path), opts.path === undefined);
    await clearStale(path, opts.log);

    const self = new ControlServer(path, opts);
    const { server } = self;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(err.code === 'EADDRINUSE'
          ? new ControlError(CONTROL_ERR.IN_USE, `${path}: another process took the control socket path at the same time`, { cause: err })
          : new ControlError(CONTROL_ERR.PATH, `cannot listen on ${path}: ${err.message}`, { cause: err }));
      };
      server.once('error', onError);
      // The socket is created by bind() inside listen(): under this umask it is never group/other-accessible.
      const umask = process.umask(0o177);
      try {
        server.listen(path, () => { server.removeListener('error', onError); resolve(); });
      } finally {
        process.umask(umask);
      }
    });
    chmodSync(path, 0o600);
    server.on('error', (err) => opts.log.error({ err }, `control socket ${path}: ${err.message}`));
    self.ino = statSync(path).ino;
    opts.log.info({ controlSocket: path }, `control socket ${path} (vxtap fdb|arp|peers|stats)`);
    return self;
  }

  /** The answer to one request line (with its newline). Never throws. explain's is a promise (it may ask etcd). */
  answer(line: string): string | Promise<string> {
    try {
      const req = decodeRequestFields(line);
      if (!isCommand(req.cmd)) {
        return encodeError(CONTROL_ERR.UNKNOWN_COMMAND, `unknown command ${JSON.stringify(req.cmd)} (commands: ${COMMANDS.join(', ')})`);
      }
      if (req.cmd === 'explain') return this.explain(req.fields).then(encodeOk).catch((err: unknown) => this.failure(err, line));
      return encodeOk(this.data(req.cmd));
    } catch (err) {
      return this.failure(err, line);
    }
  }

  private failure(err: unknown, line: string): string {
    if (err instanceof ControlError) return encodeError(err.code, err.message);
    this.opts.log.error({ err }, `control socket: answering ${line.slice(0, 80)} failed`);
    return encodeError(CONTROL_ERR.INTERNAL, `the daemon failed to answer: ${(err as Error).message}`);
  }

  private explain(fields: Record<string, unknown>): Promise<ExplainData> {
    const run = this.opts.node.explain;
    if (run === undefined) return Promise.reject(new ControlError(CONTROL_ERR.UNKNOWN_COMMAND, 'this daemon cannot explain frames'));
    return run(explainRequest(fields));
  }

  /** Stops listening, ends open connections, removes the socket file (if it is still the one we made). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const c of this.conns) c.destroy();
      await closed;
      try {
        if (lstatSync(this.path).ino === this.ino) unlinkSync(this.path);
      } catch { /* already gone (libuv unlinks a closed pipe's path) */ }
      // A per-namespace directory (/run/vxtap/netns/<ns>/) we leave empty goes too:
      // namespaces come and go, and their directories should not pile up in /run.
      const dir = dirname(this.path);
      if (dirname(dir) === join(CONTROL_DIR, 'netns')) {
        try { rmdirSync(dir); } catch { /* not empty (another daemon's socket), or gone */ }
      }
    })();
    return this.closing;
  }

  private data(cmd: ControlCommand): unknown {
    const { node, info } = this.opts;
    switch (cmd) {
      case 'fdb': return fdbRows(node, this.now());
      case 'arp': return arpRows(node, this.now());
      case 'peers': return peerRows(node);
      case 'stats': return statsData(node, info, this.startedAt, this.now());
      case 'explain': throw new Error('explain is answered by explain()');
    }
  }

  private serve(sock: Socket): void {
    if (this.closing !== null) { sock.destroy(); return; }
    this.conns.add(sock);
    sock.once('close', () => this.conns.delete(sock));
    sock.on('error', (err) => this.opts.log.debug({ err }, `control connection: ${err.message}`));
    sock.setTimeout(IDLE_MS, () => sock.destroy());
    const lines = new LineDecoder();
    let done = false;
    // Answers go out in request order: an explain (async) holds the ones after it.
    let queue: Promise<void> = Promise.resolve();
    sock.on('data', (chunk: Buffer) => {
      if (done) return;
      let got: string[];
      try {
        got = lines.push(chunk);
      } catch (err) {
        const e = err as ControlError;
        done = true;
        sock.end(encodeError(e.code, e.message));
        return;
      }
      for (const line of got) {
        if (line.trim() === '') continue; // a bare Enter in `nc -U`
        const a = this.answer(line);
        queue = queue.then(async () => { const text = await a; if (!sock.destroyed) sock.write(text); })
          .catch((err: unknown) => {
            // answer() never rejects; should it, the chain must not end the daemon
            // with an unhandled rejection, and the client still gets its line.
            this.opts.log.error({ err }, `control socket: answering ${line.slice(0, 80)} failed`);
            if (!sock.destroyed) sock.write(encodeError(CONTROL_ERR.INTERNAL, `the daemon failed to answer: ${(err as Error).message}`));
          });
      }
    });
  }
}

/**
 * Removes a socket file nobody listens on. A file that is not a socket, or
 * a socket with a live listener, is left alone and is an error.
 */
async function clearStale(path: string, log: Pick<Logger, 'warn'>): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ControlError(CONTROL_ERR.PATH, `cannot use ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (!st.isSocket()) throw new ControlError(CONTROL_ERR.PATH, `${path} exists and is not a socket; refusing to replace it`);
  const live = await new Promise<boolean | NodeJS.ErrnoException>((resolve) => {
    const c = createConnection(path);
    const timer = setTimeout(() => { c.destroy(); resolve(true); }, PROBE_MS); // accepted but silent: someone is there
    c.once('connect', () => { clearTimeout(timer); c.destroy(); resolve(true); });
    c.once('error', (err: NodeJS.ErrnoException) => { clearTimeout(timer); resolve(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? false : err); });
  });
  if (live === true) throw new ControlError(CONTROL_ERR.IN_USE, `a live vxtap daemon already serves ${path} (stop it, or pass another --control-socket)`);
  if (live !== false) throw new ControlError(CONTROL_ERR.PATH, `cannot probe ${path}: ${live.message}`, { cause: live });
  try {
    unlinkSync(path);
    log.warn({ controlSocket: path }, `replaced the stale control socket ${path} (left by a daemon that did not stop cleanly)`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new ControlError(CONTROL_ERR.PATH, `cannot remove the stale ${path}: ${(err as Error).message}`, { cause: err });
  }
}
