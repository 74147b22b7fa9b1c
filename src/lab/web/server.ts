/**
 * `vxtap lab web`: a page that draws the running lab and its counters, on
 * 127.0.0.1 only. node:http is enough for one page, one script and a few
 * JSON routes; no framework.
 *
 *   GET  /                      the page (HTML with its CSS inline)
 *   GET  /app.js                the page's script (src/lab/web/page/app.ts, compiled)
 *   GET  /api/topology          hosts, containers, underlay, tunnels (lab.json)
 *   GET  /api/live              every host's counters, FDB, ARP, peers
 *   GET  /api/trace?host=h1&n=20  the last frames of a host's trace
 *   GET  /api/etcd[?host=h1[&host=h2]]  the etcd records (keys, values, revisions, leases), all or a host's / a tunnel's
 *   POST /api/ping {"from":"h1","to":"h2"}  one ping, and the trace records of it on each host
 *
 * The page polls /api/live once a second rather than holding a stream
 * (server-sent events): each poll is a fresh snapshot of every daemon, a
 * slow daemon delays one answer and not a stream, and the server keeps no
 * connection open, so Ctrl-C stops it at once.
 *
 * The lab's state is read again on every request: `lab down` then `lab up`
 * under the same state dir shows the new lab without restarting the page.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ConfigError, VxtapError } from '../../errors';
import type { LabScope } from '../plan';
import { scopeFlags } from '../plan';
import type { Shell } from '../shell';
import { requireState } from '../state';
import { allLive, etcdRecords, hostOf, pingTrace, topologyOf, traceTail } from './data';
import { PAGE_HTML } from './page-html';

/** The only address the server binds: the page shows the lab's tables and can start pings, so it stays on this machine. */
export const WEB_HOST = '127.0.0.1';
export const DEFAULT_WEB_PORT = 8080;
const MAX_BODY = 4096;
const MAX_TRACE_LINES = 200;

export interface WebServerOptions {
  port: number;
  /** Only 127.0.0.1 is accepted (the flag exists so that a wrong one is refused, not ignored). */
  host?: string;
}

/** Refuses any address but the loopback one: the page is local only. */
export function checkWebHost(host: string): string {
  if (host !== WEB_HOST && host !== 'localhost') {
    throw new ConfigError(`lab web serves on ${WEB_HOST} only (it shows the lab's tables and starts pings); ${JSON.stringify(host)} is refused`, 'host');
  }
  return WEB_HOST;
}

export class LabWebServer {
  private readonly server: Server;
  private script: string | null = null;

  constructor(private readonly scope: LabScope, private readonly sh: Shell) {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => this.fail(res, err));
    });
  }

  /** Listens on 127.0.0.1:port (0: any free port); returns the page's URL. */
  async listen(o: WebServerOptions): Promise<string> {
    const host = checkWebHost(o.host ?? WEB_HOST);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(o.port, host, () => { this.server.off('error', reject); resolve(); });
    });
    const a = this.server.address() as AddressInfo;
    return `http://${a.address}:${a.port}/`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private state() {
    return requireState(this.scope, scopeFlags(this.scope));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${WEB_HOST}`);
    // Another site open in the same browser must not drive the page's API:
    // a Host other than ours is a DNS-rebinding attempt, and a POST that is
    // not JSON is a cross-site form (JSON needs a preflight we never answer).
    if (!/^(127\.0\.0\.1|localhost)(:\d+)?$/.test(req.headers.host ?? '')) {
      return this.json(res, { error: { code: 'VXTAP_ERR_WEB_HOST', message: `Host ${JSON.stringify(req.headers.host ?? '')} refused: open the page at ${WEB_HOST}` } }, 403);
    }
    if (req.method === 'POST' && !/^application\/json\b/.test(req.headers['content-type'] ?? '')) {
      return this.json(res, { error: { code: 'VXTAP_ERR_WEB_BAD_REQUEST', message: 'POST takes application/json' } }, 415);
    }
    const get = req.method === 'GET' || req.method === 'HEAD';
    if (get && url.pathname === '/') return this.send(res, 200, 'text/html; charset=utf-8', PAGE_HTML);
    if (get && url.pathname === '/app.js') return this.send(res, 200, 'text/javascript; charset=utf-8', this.pageScript());
    if (get && url.pathname === '/api/topology') return this.json(res, topologyOf(this.state()));
    if (get && url.pathname === '/api/live') return this.json(res, { time: new Date().toISOString(), hosts: await allLive(this.sh, this.state()) });
    if (get && url.pathname === '/api/trace') {
      const st = this.state();
      const h = hostOf(st, url.searchParams.get('host') ?? '');
      const n = Math.min(MAX_TRACE_LINES, Math.max(1, Number(url.searchParams.get('n') ?? 20) || 20));
      return this.json(res, { host: h.name, kind: h.kind, traced: h.kind === 'vxtap' && h.trace !== null, frames: traceTail(h, n) });
    }
    if (get && url.pathname === '/api/etcd') {
      // ?host=h1 (a host) or ?host=h1&host=k1 (a tunnel's two ends): their records only.
      const st = this.state();
      const only = url.searchParams.getAll('host').map((n) => hostOf(st, n).name);
      const r = await etcdRecords(this.sh, st);
      return this.json(res, only.length === 0 ? r : { ...r, records: r.records.filter((x) => x.host !== null && only.includes(x.host)) });
    }
    if (req.method === 'POST' && url.pathname === '/api/ping') {
      const body = await readBody(req);
      let from = '';
      let to = '';
      try {
        const j = JSON.parse(body) as { from?: unknown; to?: unknown };
        if (typeof j.from === 'string') from = j.from;
        if (typeof j.to === 'string') to = j.to;
      } catch { /* refused below */ }
      if (from === '' || to === '') return this.json(res, { error: { code: 'VXTAP_ERR_WEB_BAD_REQUEST', message: 'POST /api/ping takes {"from":"h1","to":"h2"}' } }, 400);
      return this.json(res, await pingTrace(this.sh, this.state(), from, to));
    }
    return this.json(res, { error: { code: 'VXTAP_ERR_WEB_NOT_FOUND', message: `no route ${req.method ?? ''} ${url.pathname}` } }, 404);
  }

  /** The compiled page script, read once (dist/src/lab/web/page/app.js, beside this file). */
  private pageScript(): string {
    if (this.script === null) this.script = readFileSync(join(__dirname, 'page', 'app.js'), 'utf8');
    return this.script;
  }

  private send(res: ServerResponse, status: number, type: string, body: string): void {
    // The page loads nothing from elsewhere, and says so to the browser.
    res.writeHead(status, {
      'content-type': type, 'cache-control': 'no-store',
      'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
    });
    res.end(body);
  }

  private json(res: ServerResponse, data: unknown, status = 200): void {
    this.send(res, status, 'application/json; charset=utf-8', JSON.stringify(data));
  }

  private fail(res: ServerResponse, err: unknown): void {
    const code = err instanceof VxtapError ? err.code : 'VXTAP_ERR_WEB_INTERNAL';
    const status = code === 'VXTAP_ERR_LAB_HOST' ? 404 : code === 'VXTAP_ERR_LAB_NONE' ? 503 : 500;
    if (res.headersSent) { res.destroy(); return; }
    this.json(res, { error: { code, message: (err as Error).message } }, status);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) { reject(new ConfigError('request body too large', 'body')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
