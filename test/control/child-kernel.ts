/**
 * Runs KernelNet calls inside a network namespace for test/control/kernel.test.ts
 * (the test process itself stays in the root namespace). Not a test file.
 *
 * Usage: node child-kernel.js '<JSON array of ops>'
 * Prints one JSON array: per op, {ok: result} or {error: {name, code, errno, message}}.
 */
import { KernelNet, peerRoute, type LinkChange, type RouteSpec, type VtepConfig } from '../../src/control/kernel';
import { VxtapError } from '../../src/errors';

export type Op =
  | { op: 'link'; name: string }
  | { op: 'setLink'; name: string; change: LinkChange }
  | { op: 'replaceAddress'; name: string; cidr: string }
  | { op: 'deleteAddress'; name: string; cidr: string }
  | { op: 'ipv4Addresses'; name: string }
  | { op: 'replaceRoute'; route: RouteSpec }
  | { op: 'replacePeerRoute'; subnet: string; dev: string }
  | { op: 'deleteRoute'; route: RouteSpec }
  | { op: 'flushOwnRoutes'; dev: string }
  | { op: 'routes'; dev?: string }
  | { op: 'defaultRouteInterface' }
  | { op: 'underlay'; name?: string }
  | { op: 'setupVtep'; cfg: VtepConfig }
  | { op: 'setupL2Port'; cfg: { tap: string; mac: string; underlayMtu: number; bridge?: string } }
  /** Runs `ops` concurrently on the one socket; the result is the list of their results. */
  | { op: 'parallel'; ops: Op[] };

export type Outcome =
  | { ok: unknown }
  | { error: { name: string; code?: string; errno?: string; message: string } };

async function runOp(k: KernelNet, o: Op): Promise<unknown> {
  switch (o.op) {
    case 'link': return k.link(o.name);
    case 'setLink': return k.setLink(o.name, o.change);
    case 'replaceAddress': return k.replaceAddress(o.name, o.cidr);
    case 'deleteAddress': return k.deleteAddress(o.name, o.cidr);
    case 'ipv4Addresses': return k.ipv4Addresses(o.name);
    case 'replaceRoute': return k.replaceRoute(o.route);
    case 'replacePeerRoute': return k.replaceRoute(peerRoute(o.subnet, o.dev));
    case 'deleteRoute': return k.deleteRoute(o.route);
    case 'flushOwnRoutes': return k.flushOwnRoutes(o.dev);
    case 'routes': return k.routes(o.dev);
    case 'defaultRouteInterface': return k.defaultRouteInterface();
    case 'underlay': return k.underlay(o.name);
    case 'setupVtep': return k.setupVtep(o.cfg);
    case 'setupL2Port': return k.setupL2Port(o.cfg);
    case 'parallel': return Promise.all(o.ops.map((x) => runOp(k, x)));
  }
}

async function main(): Promise<void> {
  const ops = JSON.parse(process.argv[2] ?? '[]') as Op[];
  const k = KernelNet.open();
  const out: Outcome[] = [];
  try {
    for (const o of ops) {
      try {
        const r = await runOp(k, o);
        out.push({ ok: r === undefined ? null : r });
      } catch (err) {
        const e = err as Error & { code?: string; errno?: string };
        out.push({
          error: {
            name: e.name,
            ...(err instanceof VxtapError ? { code: err.code } : {}),
            ...(typeof e.errno === 'string' ? { errno: e.errno } : {}),
            message: e.message,
          },
        });
      }
    }
  } finally {
    k.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
