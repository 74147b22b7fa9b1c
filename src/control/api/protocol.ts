/**
 * The control API's wire format: newline-delimited JSON over a Unix stream
 * socket (root only: the socket is 0600 in a 0700 directory). One request per
 * line, one response line per request, in order; a client may send several
 * on one connection, or one and close.
 *
 *   request:   {"cmd":"fdb"}
 *   response:  {"ok":true,"data":[{"mac":"02:76:c0:a8:5a:02","vtep":"192.168.90.2","port":4789,"kind":"static","ageSeconds":12}]}
 *   failure:   {"ok":false,"error":{"code":"VXTAP_ERR_CONTROL_UNKNOWN_COMMAND","message":"unknown command \"fbd\" (commands: fdb, arp, peers, stats)"}}
 *
 * By hand:  printf '{"cmd":"stats"}\n' | socat - UNIX-CONNECT:/run/vxtap/vxtap.42.sock
 *
 * Commands: fdb -> FdbRow[], arp -> ArpRow[], peers -> PeerRow[], stats ->
 * StatsData, explain -> ExplainData (api/explain.ts: a made-up frame through
 * the pipeline in a dry run; request fields "side": "tap"|"net", "frame":
 * hex, and for the network side "from": "<ip>:<port>"). Field names are an interface (`vxtap <cmd> --json` prints
 * `data` as is): fields may be added, none renamed. Unknown request fields
 * are ignored, so a request may carry more later. Error codes are stable
 * (CONTROL_ERR below); messages are for people.
 */
import { VxtapError } from '../../errors';
import type { CountersSnapshot } from '../../switch/counters';
import type { ExplainData } from './explain';

export const COMMANDS = ['fdb', 'arp', 'peers', 'stats', 'explain'] as const;
export type ControlCommand = (typeof COMMANDS)[number];

/** A request line longer than this is refused (and the connection closed): requests are tiny. */
export const MAX_LINE = 64 * 1024;

export const CONTROL_ERR = {
  /** The line is not a JSON object with a string `cmd`. */
  BAD_REQUEST: 'VXTAP_ERR_CONTROL_BAD_REQUEST',
  /** `cmd` names no command. */
  UNKNOWN_COMMAND: 'VXTAP_ERR_CONTROL_UNKNOWN_COMMAND',
  /** A request line over MAX_LINE bytes. */
  TOO_LONG: 'VXTAP_ERR_CONTROL_TOO_LONG',
  /** The daemon failed to answer (a bug: the daemon logs it). */
  INTERNAL: 'VXTAP_ERR_CONTROL_INTERNAL',
  /** Client side: no daemon (no socket file, or no candidate in the directory). */
  NO_DAEMON: 'VXTAP_ERR_CONTROL_NO_DAEMON',
  /** Client side: a socket file with nobody listening (a daemon crashed). */
  STALE: 'VXTAP_ERR_CONTROL_STALE',
  /** Client side: not allowed to connect (the socket is root only). */
  DENIED: 'VXTAP_ERR_CONTROL_DENIED',
  /** Client side: the connection failed, closed early, timed out, or the answer was not a response. */
  IO: 'VXTAP_ERR_CONTROL_IO',
  /** Daemon side: a live daemon already serves the socket path. */
  IN_USE: 'VXTAP_ERR_CONTROL_IN_USE',
  /** Daemon side: the socket path or its directory cannot be used safely. */
  PATH: 'VXTAP_ERR_CONTROL_PATH',
} as const;

/** A failure of the control API, on either side; `code` is one of CONTROL_ERR or a code the daemon sent. */
export class ControlError extends VxtapError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** `fdb`: one row per FDB entry (`bridge fdb show`). */
export interface FdbRow {
  mac: string;
  vtep: string;
  port: number;
  /**
   * static: from the control plane (routed mode's peers, L2 mode's pinned
   * MACs); learned: L2 mode, from traffic; flood: an L2 flood-list member,
   * shown as `bridge fdb` shows one, MAC 00:00:00:00:00:00 (ageSeconds 0).
   */
  kind: 'static' | 'learned' | 'flood';
  /** Whole seconds since the entry was made or last refreshed. */
  ageSeconds: number;
}

/** `arp`: one row per ARP entry (`ip neigh show`), with the peer whose `.0` address it is, when known. */
export interface ArpRow {
  ip: string;
  mac: string;
  /** The peer's lease (subnet) this entry belongs to, or null. */
  subnet: string | null;
  /** That peer's underlay address, or null. L2 mode: the VTEP the FDB places the MAC behind, or null. */
  publicIp: string | null;
  /** L2 mode: static (from the control plane) or learned (snooped from a decapsulated ARP), with its age. Absent in routed mode. */
  kind?: 'static' | 'learned';
  ageSeconds?: number;
}

/** `peers`: one row per remote host, installed or failed. */
export interface PeerRow {
  subnet: string;
  publicIp: string | null;
  vtepMac: string | null;
  /** The route as `ip route` shows it ("10.44.2.0/24 via 10.44.2.0 dev vxtap.42 onlink"), or null when not installed. */
  route: string | null;
  /** Why the peer is not installed (refused by the lease rules, or its route failed and its entries were rolled back), or null. */
  error: string | null;
}

/** `stats`: who this daemon is, and its counters. */
export interface StatsData {
  /** routed or l2. Optional: a daemon from before L2 mode is routed. */
  mode?: 'routed' | 'l2';
  tap: string;
  vni: number;
  port: number;
  subnet: string;
  publicIp: string;
  vtepMac: string;
  io: string;
  pid: number;
  /** Whole seconds since the node came up. */
  uptimeSeconds: number;
  /** The switch counters; `drops` by reason name (switch/counters.ts DROP_NAMES). */
  counters: CountersSnapshot;
  /** Each port's own counters as the port reports them (PortStats and whatever the port adds), or null. */
  ports: { tap: Record<string, unknown> | null; udp: Record<string, unknown> | null };
  /** Table sizes. */
  tables: { fdb: number; arp: number; peers: number; floodList?: number };
  /**
   * The routes vxtap owns (README, "Routes are owned"): their route protocol
   * (`ip route show proto 118`), how many peer routes were refused since
   * start because another route held the destination, and how many peers
   * are not installed now (`vxtap peers` says why). Optional: a daemon from
   * before owned routes has none.
   */
  routes?: { protocol: number; conflicts: number; failedPeers: number };
  /**
   * What the offloads came to (README, Offloads): each on, or why not. udp is
   * null with --io dgram. Optional: a daemon from before offloads has none.
   */
  offloads?: { tap: OffloadState; udp: { gso: OffloadState; gro: OffloadState; sourcePorts: { min: number; count: number } | null } | null };
  /**
   * Leases the guard refused (control/lease-rules.ts): refusals so far by
   * reason (zeros included), and how many are refused now. Optional: a
   * daemon from before the guard has none.
   */
  leases?: { refusals: Record<string, number>; refusedNow: number };
}

export interface OffloadState {
  enabled: boolean;
  reason: string;
}

export interface DataOf {
  fdb: FdbRow[];
  arp: ArpRow[];
  peers: PeerRow[];
  stats: StatsData;
  explain: ExplainData;
}

export interface Request {
  cmd: string;
}

export type Response<T = unknown> =
  | { ok: true; data: T }
  | { ok: false; error: { code: string; message: string } };

export function isCommand(cmd: string): cmd is ControlCommand {
  return (COMMANDS as readonly string[]).includes(cmd);
}

export function encodeRequest(cmd: string, fields: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...fields, cmd }) + '\n';
}

/** One line (without its newline) to a request; throws ControlError(BAD_REQUEST). Extra fields are ignored. */
export function decodeRequest(line: string): Request {
  return { cmd: decodeRequestFields(line).cmd };
}

/** decodeRequest, with the whole object: commands with arguments (explain) read theirs from it. */
export function decodeRequestFields(line: string): Request & { fields: Record<string, unknown> } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new ControlError(CONTROL_ERR.BAD_REQUEST, `not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ControlError(CONTROL_ERR.BAD_REQUEST, 'a request is a JSON object, e.g. {"cmd":"fdb"}');
  const cmd = (v as Record<string, unknown>)['cmd'];
  if (typeof cmd !== 'string') throw new ControlError(CONTROL_ERR.BAD_REQUEST, 'a request needs "cmd" (a string), e.g. {"cmd":"fdb"}');
  return { cmd, fields: v as Record<string, unknown> };
}

export function encodeOk(data: unknown): string {
  return JSON.stringify({ ok: true, data }) + '\n';
}

export function encodeError(code: string, message: string): string {
  return JSON.stringify({ ok: false, error: { code, message } }) + '\n';
}

/** One response line to a Response; throws ControlError(IO) for anything else. */
export function decodeResponse(line: string): Response {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new ControlError(CONTROL_ERR.IO, `the daemon's answer is not JSON: ${JSON.stringify(line.slice(0, 80))}`);
  }
  if (typeof v === 'object' && v !== null) {
    const r = v as Record<string, unknown>;
    if (r['ok'] === true && 'data' in r) return { ok: true, data: r['data'] };
    const e = r['error'];
    if (r['ok'] === false && typeof e === 'object' && e !== null) {
      const { code, message } = e as Record<string, unknown>;
      if (typeof code === 'string' && typeof message === 'string') return { ok: false, error: { code, message } };
    }
  }
  throw new ControlError(CONTROL_ERR.IO, `the daemon's answer is not a response: ${JSON.stringify(line.slice(0, 80))}`);
}

/**
 * Splits a byte stream into lines (UTF-8, without the newline; a trailing
 * '\r' is dropped). Partial lines are kept across chunks. A line longer than
 * `max` bytes makes push() throw ControlError(TOO_LONG); the decoder is
 * useless after that (the caller closes the connection).
 */
export class LineDecoder {
  private parts: Buffer[] = [];
  private pending = 0;

  constructor(private readonly max = MAX_LINE) {}

  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      this.check(piece.length);
      const whole = this.parts.length === 0 ? piece : Buffer.concat([...this.parts, piece]);
      this.parts = [];
      this.pending = 0;
      const text = whole.toString('utf8');
      lines.push(text.endsWith('\r') ? text.slice(0, -1) : text);
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.check(rest.length);
      this.parts.push(Buffer.from(rest)); // a copy: the chunk's memory is the stream's
      this.pending += rest.length;
    }
    return lines;
  }

  private check(more: number): void {
    if (this.pending + more > this.max) throw new ControlError(CONTROL_ERR.TOO_LONG, `request line over ${this.max} bytes`);
  }
}
