/**
 * An `Etcd3` client from vxtap's etcd options (flannel's -etcd-endpoints,
 * -etcd-cafile, -etcd-certfile, -etcd-keyfile, -etcd-username,
 * -etcd-password).
 *
 * What differs from the etcd3 package's defaults, and why:
 * - Every unary call (get, put, txn, lease grant) has a deadline
 *   (`callTimeoutMs`, 5 s): without one, a call to a frozen etcd waits forever.
 * - gRPC keepalive pings (`keepaliveMs` 10 s, `keepaliveTimeoutMs` 5 s):
 *   without them a watch on a frozen etcd (hung host, SIGSTOP, a dead link
 *   with no RST) never learns that it is dead. etcd refuses pings more often
 *   than its --grpc-keepalive-min-time (5 s by default).
 * - The per-host circuit breaker opens after 3 failures as in etcd3, but
 *   tries again after 1 s instead of 5 s, so that vxtap sees etcd come back
 *   within a second or two; the global retry tries each endpoint once more.
 * - The watch manager's own reconnect backoff is short (100 ms .. 2 s): the
 *   watch wrapper (watch.ts) cancels etcd3's watchers on a disconnect and
 *   does its own backoff, so etcd3's timers only need to end soon.
 *
 * (cockatiel, for the policies, is the etcd3 package's own dependency.)
 */
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { circuitBreaker, ConsecutiveBreaker, ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { Etcd3, isRecoverableError, type IOptions } from 'etcd3';
import { ConfigError } from '../../errors';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:2379';

export interface EtcdClientOptions {
  /** Client URLs, e.g. ['http://10.0.0.1:2379']; all http or all https. A bare host:port means http. */
  endpoints: string[];
  /** PEM file of the CA that signed etcd's certificate (https only; default: the system's CAs). */
  cafile?: string;
  /** PEM client certificate, with keyfile (https only). */
  certfile?: string;
  keyfile?: string;
  username?: string;
  password?: string;
  /** Deadline of each unary call, ms. Default 5000. */
  callTimeoutMs?: number;
  /** gRPC keepalive ping interval, ms. Default 10000. */
  keepaliveMs?: number;
  /** How long a keepalive ping may go unanswered before the connection is dropped, ms. Default 5000. */
  keepaliveTimeoutMs?: number;
  /** How long to wait for a connection, ms. Default 5000. */
  dialTimeoutMs?: number;
}

/** The etcd3 package's options for `o`. Throws ConfigError (field: the option's name). */
export function etcd3Options(o: EtcdClientOptions): IOptions {
  if (o.endpoints.length === 0) throw new ConfigError('etcd-endpoints: no endpoint given', 'etcd-endpoints');
  const hosts = o.endpoints.map(normalizeEndpoint);
  const secure = hosts.filter((h) => h.startsWith('https://')).length;
  if (secure !== 0 && secure !== hosts.length) {
    throw new ConfigError(`etcd-endpoints: mixes http:// and https:// (${hosts.join(', ')})`, 'etcd-endpoints');
  }
  const tls = secure > 0;

  if ((o.certfile === undefined) !== (o.keyfile === undefined)) {
    const field = o.certfile === undefined ? 'etcd-certfile' : 'etcd-keyfile';
    throw new ConfigError(`${field}: a client certificate needs both etcd-certfile and etcd-keyfile`, field);
  }
  const tlsFiles = o.cafile !== undefined || o.certfile !== undefined;
  if (tlsFiles && !tls) {
    const field = o.cafile !== undefined ? 'etcd-cafile' : 'etcd-certfile';
    throw new ConfigError(`${field}: TLS files are given but the endpoints use http:// (use https://)`, field);
  }
  if ((o.username === undefined) !== (o.password === undefined)) {
    const field = o.username === undefined ? 'etcd-username' : 'etcd-password';
    throw new ConfigError(`${field}: etcd auth needs both etcd-username and etcd-password`, field);
  }

  const callTimeoutMs = o.callTimeoutMs ?? 5000;
  const opts: IOptions = {
    hosts,
    dialTimeout: o.dialTimeoutMs ?? 5000,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + callTimeoutMs }),
    grpcOptions: {
      'grpc.keepalive_time_ms': o.keepaliveMs ?? 10_000,
      'grpc.keepalive_timeout_ms': o.keepaliveTimeoutMs ?? 5000,
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 2000,
    },
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
      global: retry(handleWhen(isRecoverableError), { maxAttempts: hosts.length }),
      // etcd3 types this as a backoff step (it calls next() and reads duration); a factory's first step is one.
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 2000 }).next(),
    },
  };
  if (tlsFiles) {
    opts.credentials = {
      rootCertificate: o.cafile !== undefined ? readPem(o.cafile, 'etcd-cafile') : Buffer.from(rootCertificates.join('\n')),
      ...(o.certfile !== undefined ? { certChain: readPem(o.certfile, 'etcd-certfile') } : {}),
      ...(o.keyfile !== undefined ? { privateKey: readPem(o.keyfile, 'etcd-keyfile') } : {}),
    };
  }
  if (o.username !== undefined && o.password !== undefined) opts.auth = { username: o.username, password: o.password };
  return opts;
}

/** A client for `o`. Close it (client.close()) after the registry and peer sources that use it. */
export function createEtcdClient(o: EtcdClientOptions): Etcd3 {
  return new Etcd3(etcd3Options(o));
}

/** 'host:port' -> 'http://host:port'; a URL must be http(s) with a host and no path. */
export function normalizeEndpoint(e: string): string {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(e) ? e : `http://${e}`;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new ConfigError(`etcd-endpoints: not a URL: ${JSON.stringify(e)}`, 'etcd-endpoints');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ConfigError(`etcd-endpoints: ${JSON.stringify(e)}: the scheme must be http or https`, 'etcd-endpoints');
  }
  if (!u.hostname) throw new ConfigError(`etcd-endpoints: ${JSON.stringify(e)} names no host`, 'etcd-endpoints');
  if (u.pathname !== '/' && u.pathname !== '') {
    throw new ConfigError(`etcd-endpoints: ${JSON.stringify(e)}: a client URL has no path`, 'etcd-endpoints');
  }
  return `${u.protocol}//${u.hostname}:${u.port || '2379'}`;
}

function readPem(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(`${field}: cannot read ${path}: ${e.code ?? e.message}`, field);
  }
}
