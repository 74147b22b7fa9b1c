/**
 * Serves Rtnl calls inside a network namespace for test/control/rtnl.test.ts
 * (an rtnetlink socket talks to the namespace it was opened in; the test
 * process stays in the root namespace). Long-lived, so that a TAP it opens
 * stays attached (and has carrier) between the test's steps. Not a test file.
 *
 * Protocol: one JSON request per stdin line, {id, op, ...args}; one JSON
 * answer per stdout line, {id, ok: result} or {id, error: {name, code,
 * errno, errnoNumber, extack, message}}. Exits when stdin closes, closing
 * its socket and TAPs.
 */
import { createInterface } from 'node:readline';
import { Rtnl, type LinkSet, type RouteAdd, type RouteDelete } from '../../src/control/rtnl';
import { loadAddon } from '../../src/io/native';
import * as nl from '../../src/wire/netlink';

export type RtnlOp =
  | { op: 'links' }
  | { op: 'link'; name: string }
  | { op: 'linkByIndex'; index: number }
  | { op: 'setLink'; index: number; change: LinkSet }
  | { op: 'addresses'; index?: number }
  | { op: 'addAddress'; index: number; cidr: string; flags?: number }
  | { op: 'deleteAddress'; index: number; cidr: string }
  | { op: 'routes'; table?: number }
  | { op: 'defaultRoute' }
  | { op: 'routeGet'; addr: string; fibMatch?: boolean; lookupTable?: boolean }
  | { op: 'addRoute'; route: RouteAdd; flags: number }
  | { op: 'deleteRoute'; route: RouteDelete }
  /** Opens (creates) a TAP with the addon and keeps it open; returns its name. */
  | { op: 'tapOpen'; name: string }
  /** Runs ops concurrently on the one socket. */
  | { op: 'parallel'; ops: RtnlOp[] }
  /**
   * The synchronous transport on its own socket: sends `requestHex` with
   * nlTransact and returns the reply as hex, then a link lookup of `then`
   * (by name, also synchronous) on the same socket, to show it still works.
   */
  | { op: 'sync'; timeoutMs: number; requestHex: string; then: string };

const addon = loadAddon();
const rtnl = Rtnl.open({ timeoutMs: 3000 });
const taps: number[] = [];

async function run(o: RtnlOp): Promise<unknown> {
  switch (o.op) {
    case 'links': return rtnl.links();
    case 'link': return rtnl.link(o.name);
    case 'linkByIndex': return rtnl.linkByIndex(o.index);
    case 'setLink': return rtnl.setLink(o.index, o.change);
    case 'addresses': return rtnl.addresses(o.index);
    case 'addAddress': return rtnl.addAddress(o.index, o.cidr, o.flags);
    case 'deleteAddress': return rtnl.deleteAddress(o.index, o.cidr);
    case 'routes': return rtnl.routes(o.table === undefined ? {} : { table: o.table });
    case 'defaultRoute': return rtnl.defaultRoute();
    case 'routeGet': {
      const opts: { fibMatch?: boolean; lookupTable?: boolean } = {};
      if (o.fibMatch !== undefined) opts.fibMatch = o.fibMatch;
      if (o.lookupTable !== undefined) opts.lookupTable = o.lookupTable;
      return rtnl.routeGet(o.addr, opts);
    }
    case 'addRoute': return rtnl.addRoute(o.route, o.flags);
    case 'deleteRoute': return rtnl.deleteRoute(o.route);
    case 'tapOpen': {
      const t = addon.tapOpen(o.name);
      taps.push(t.fd);
      return t.name;
    }
    case 'parallel': return Promise.all(o.ops.map(run));
    case 'sync': {
      const fd = addon.nlOpen(o.timeoutMs);
      try {
        let first: unknown;
        try {
          first = { replyHex: addon.nlTransact(fd, Buffer.from(o.requestHex, 'hex')).toString('hex') };
        } catch (err) {
          const e = err as Error & { code?: string; syscall?: string };
          first = { thrown: { code: e.code, syscall: e.syscall, message: e.message } };
        }
        const reply = addon.nlTransact(fd, nl.getLinkRequest(0x5eed, o.then));
        const link = nl.parseMessages(reply).find((m) => m.type === nl.RTM_NEWLINK);
        return { first, thenName: link ? nl.parseLink(link).name ?? null : null, thenSeq: nl.parseMessages(reply)[0]!.seq };
      } finally {
        addon.close(fd);
      }
    }
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const req = JSON.parse(line) as RtnlOp & { id: number };
  run(req).then(
    (r) => process.stdout.write(`${JSON.stringify({ id: req.id, ok: r === undefined ? null : r })}\n`),
    (err: unknown) => {
      const e = err as Error & { code?: string; errno?: unknown; errnoNumber?: number; extack?: string };
      process.stdout.write(`${JSON.stringify({
        id: req.id,
        error: { name: e.name, code: e.code, errno: e.errno, errnoNumber: e.errnoNumber, extack: e.extack, message: e.message },
      })}\n`);
    },
  );
});
rl.on('close', () => {
  void rtnl.close().then(() => {
    for (const fd of taps) addon.close(fd);
    process.exit(0);
  });
});
