/**
 * The daemon's HTTP listener (flannel's --healthz-ip/--healthz-port), off
 * unless a port is given:
 *
 *   GET /healthz   200 "ok" while the process and its event loop are alive;
 *                  503 with the reason after a recent stall (health.ts)
 *   GET /readyz    200 "ok" once the TAP is up, the lease is held and the
 *                  peers were synced; 503 with one reason per line otherwise
 *   GET /metrics   the Prometheus text format (metrics.ts)
 *
 * It starts before the daemon joins the network, so a probe gets an answer
 * (not ready, and why) during start-up too.
 */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { SystemError } from '../../errors';
import type { Health } from './health';

export interface HttpOptions {
  readonly ip: string;
  readonly port: number;
  readonly health: Health;
  readonly metrics: Registry;
}

export class HealthServer {
  private constructor(private readonly server: Server, readonly address: { ip: string; port: number }) {}

  static async start(opts: HttpOptions): Promise<HealthServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      if (path === '/healthz' || path === '/readyz') {
        const v = path === '/healthz' ? opts.health.alive() : opts.health.ready();
        res.writeHead(v.ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(`${v.reasons.join('\n')}\n`);
        return;
      }
      if (path === '/metrics') {
        opts.metrics.metrics().then((text) => {
          res.writeHead(200, { 'content-type': opts.metrics.contentType }).end(text);
        }, (err: Error) => {
          res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`);
        });
        return;
      }
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz or /metrics\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new SystemError('listen', err.code ?? 'EIO', `--healthz-port ${opts.port} on ${opts.ip}: ${err.message}`));
      });
      server.listen(opts.port, opts.ip, () => resolve());
    });
    const a = server.address();
    const port = typeof a === 'object' && a !== null ? a.port : opts.port;
    return new HealthServer(server, { ip: opts.ip, port });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
