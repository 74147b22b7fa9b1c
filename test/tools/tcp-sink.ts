/**
 * Test tool, run inside a namespace: accepts ONE TCP connection on host:port,
 * hashes everything it receives, and prints {"bytes": N, "sha256": "..."} when
 * the peer closes. Prints {"listening": true} once it listens.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';

const [host, portText] = process.argv.slice(2);
const server = createServer((sock) => {
  const h = createHash('sha256');
  let bytes = 0;
  sock.on('data', (d: Buffer) => { h.update(d); bytes += d.length; });
  sock.on('end', () => {
    process.stdout.write(JSON.stringify({ bytes, sha256: h.digest('hex') }) + '\n');
    sock.end();
    server.close();
  });
  sock.on('error', (err) => { process.stderr.write(`sink: ${err.message}\n`); process.exit(1); });
});
server.listen(Number(portText), host, () => { process.stdout.write(JSON.stringify({ listening: true }) + '\n'); });
setTimeout(() => { process.stderr.write('sink: no complete transfer within 120 s\n'); process.exit(2); }, 120_000).unref();
