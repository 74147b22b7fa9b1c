/**
 * Test tool, run inside a namespace: connects to host:port, sends `mb` MiB of
 * pseudo-random bytes (a fixed seed, so the run is repeatable), closes, and
 * prints {"bytes": N, "sha256": "...", "ms": T} (T = connect to close).
 */
import { createHash } from 'node:crypto';
import { connect } from 'node:net';

const [host, portText, mbText] = process.argv.slice(2);
const total = Number(mbText) * 1024 * 1024;
const chunk = Buffer.alloc(64 * 1024);
let x = 0x12345678;
const h = createHash('sha256');
let sent = 0;
const t0 = Date.now();
const sock = connect(Number(portText), host, () => {
  const pump = (): void => {
    while (sent < total) {
      const n = Math.min(chunk.length, total - sent);
      for (let i = 0; i < n; i += 4) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; chunk.writeInt32LE(x | 0, i); }
      const piece = chunk.subarray(0, n);
      h.update(piece);
      sent += n;
      if (!sock.write(Buffer.from(piece))) { sock.once('drain', pump); return; }
    }
    sock.end();
  };
  pump();
});
sock.on('close', () => { process.stdout.write(JSON.stringify({ bytes: sent, sha256: h.digest('hex'), ms: Date.now() - t0 }) + '\n'); });
sock.on('error', (err) => { process.stderr.write(`source: ${err.message}\n`); process.exit(1); });
sock.on('data', () => undefined);
