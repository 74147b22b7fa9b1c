/**
 * The client's side of the control API: one request, one answer, close.
 * Connection failures become ControlErrors that say what to do.
 */
import { createConnection } from 'node:net';
import {
  CONTROL_ERR, ControlError, LineDecoder, decodeResponse, encodeRequest, type ControlCommand, type DataOf, type Response,
} from './protocol';

export const DEFAULT_TIMEOUT_MS = 5000;

/** Sends one raw request line's command and returns the daemon's response as is (ok or error). */
export function exchange(path: string, cmd: string, timeoutMs = DEFAULT_TIMEOUT_MS, fields: Record<string, unknown> = {}): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const sock = createConnection(path);
    const lines = new LineDecoder(64 * 1024 * 1024); // answers can be long (a big FDB)
    let settled = false;
    const finish = (err: Error | null, res?: Response): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    const timer = setTimeout(() => finish(new ControlError(CONTROL_ERR.IO, `no answer from ${path} within ${timeoutMs} ms`)), timeoutMs);
    sock.once('connect', () => sock.write(encodeRequest(cmd, fields)));
    sock.on('data', (chunk: Buffer) => {
      try {
        const got = lines.push(chunk);
        if (got.length > 0) finish(null, decodeResponse(got[0]!));
      } catch (err) {
        finish(err as Error);
      }
    });
    sock.once('end', () => finish(new ControlError(CONTROL_ERR.IO, `${path}: the daemon closed the connection without an answer`)));
    sock.once('error', (err: NodeJS.ErrnoException) => finish(connectError(path, err)));
  });
}

/** Asks the daemon at `path` for `cmd`'s data. A response with ok:false throws ControlError with the daemon's code. */
export async function request<C extends ControlCommand>(path: string, cmd: C, timeoutMs = DEFAULT_TIMEOUT_MS, fields: Record<string, unknown> = {}): Promise<DataOf[C]> {
  const res = await exchange(path, cmd, timeoutMs, fields);
  if (!res.ok) throw new ControlError(res.error.code, `the daemon at ${path}: ${res.error.message}`);
  return res.data as DataOf[C];
}

function connectError(path: string, err: NodeJS.ErrnoException): ControlError {
  switch (err.code) {
    case 'ENOENT':
      return new ControlError(CONTROL_ERR.NO_DAEMON, `no vxtap daemon at ${path} (no such socket; is \`vxtap run\` running?)`, { cause: err });
    case 'ECONNREFUSED':
      return new ControlError(CONTROL_ERR.STALE, `no daemon listens on ${path}: a stale socket, left by a daemon that did not stop cleanly (the next \`vxtap run\` replaces it)`, { cause: err });
    case 'EACCES':
    case 'EPERM':
      return new ControlError(CONTROL_ERR.DENIED, `permission denied: ${path} (the control socket is root only)`, { cause: err });
    default:
      return new ControlError(CONTROL_ERR.IO, `${path}: ${err.message}`, { cause: err });
  }
}
