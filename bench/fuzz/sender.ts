/**
 * The fuzzer's datagram sender, run inside the peer's namespace by fuzz.ts:
 * sends `count` datagrams (gen.ts) to the daemon's UDP port, from the peer's
 * VTEP address (a known VTEP) or from a second address (a stranger), then
 * prints one JSON line: how many were sent, of which kinds, and how many
 * sends failed. Stops at the deadline even if not all were sent.
 *
 * Usage: node sender.js '<SenderArgs as JSON>'
 */
import { createSocket, type Socket } from 'node:dgram';
import { netDatagram, NET_KINDS, pick, Rng, type FuzzNet, type NetKind } from './gen';

export interface SenderArgs {
  target: string;
  port: number;
  knownIp: string;
  strangerIp: string;
  count: number;
  seed: number;
  net: FuzzNet;
  /** Date.now() after which nothing more is sent. */
  deadline: number;
}

export interface SenderResult {
  /** Datagrams the kernel took (the send callback reported no error). */
  sent: number;
  /** Sends that failed (ENOBUFS, EMSGSIZE, ...), by errno name. */
  failed: Record<string, number>;
  /** Sent, by kind. */
  kinds: Partial<Record<NetKind, number>>;
  /** Sent from the stranger's address. */
  fromStranger: number;
  /** True when the deadline stopped it before `count`. */
  cut: boolean;
  ms: number;
}

/** How many sends may wait for their callback at once: keeps memory flat and the receiver's buffer from flooding. */
const IN_FLIGHT = 128;

function bind(ip: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: 'udp4', sendBufferSize: 1 << 20 });
    s.once('error', reject);
    s.bind(0, ip, () => { s.removeListener('error', reject); resolve(s); });
  });
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2]!) as SenderArgs;
  const [known, stranger] = await Promise.all([bind(a.knownIp), bind(a.strangerIp)]);
  const rng = new Rng(a.seed);
  const res: SenderResult = { sent: 0, failed: {}, kinds: {}, fromStranger: 0, cut: false, ms: 0 };
  const t0 = Date.now();
  let inFlight = 0;
  let wake: (() => void) | null = null;
  const done = (kind: NetKind, fromStranger: boolean) => (err: Error | null): void => {
    inFlight--;
    if (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
      res.failed[code] = (res.failed[code] ?? 0) + 1;
    } else {
      res.sent++;
      res.kinds[kind] = (res.kinds[kind] ?? 0) + 1;
      if (fromStranger) res.fromStranger++;
    }
    if (wake !== null && inFlight < IN_FLIGHT / 2) { const w = wake; wake = null; w(); }
  };
  for (let i = 0; i < a.count; i++) {
    if ((i & 1023) === 0 && Date.now() > a.deadline) { res.cut = true; break; }
    if (inFlight >= IN_FLIGHT) await new Promise<void>((r) => { wake = r; });
    const kind = pick(rng, NET_KINDS);
    const d = netDatagram(kind, rng, a.net);
    inFlight++;
    (d.stranger ? stranger : known).send(d.data, a.port, a.target, done(kind, d.stranger));
  }
  while (inFlight > 0) await new Promise<void>((r) => { wake = r; });
  res.ms = Date.now() - t0;
  known.close();
  stranger.close();
  process.stdout.write(JSON.stringify(res) + '\n');
}

if (require.main === module) {
  main().catch((err: unknown) => { process.stderr.write(`sender: ${String(err)}\n`); process.exit(1); });
}
