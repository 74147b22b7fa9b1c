/**
 * A TCP transfer between two namespaces with the test tools (tcp-sink,
 * tcp-source): the bytes are hashed on both ends, so a transfer that
 * completes proves they arrived intact.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { TOOLS } from './daemon';

/** What the transfer needs of a lab: run a command in a host's namespace, or start one there. Lab has both. */
export interface NsRunner {
  exec(host: string, cmd: string[]): string;
  spawn(host: string, cmd: string[]): ChildProcess;
}

/** Sends `mb` MiB over TCP from `from` to `toIp`:`port` (in `to`) and checks the SHA-256 on both ends. Returns Mbit/s. */
export async function tcpTransfer(lab: NsRunner, from: string, to: string, toIp: string, mb: number, port = 5201): Promise<number> {
  const sink = lab.spawn(to, [process.execPath, join(TOOLS, 'tcp-sink.js'), toIp, String(port)]);
  let out = '';
  sink.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  let err = '';
  sink.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => { if (out.includes('listening')) { clearInterval(t); resolve(); } }, 20);
    sink.once('exit', () => { clearInterval(t); reject(new Error(`sink exited: ${err}`)); });
  });
  const sent = JSON.parse(lab.exec(from, [process.execPath, join(TOOLS, 'tcp-source.js'), toIp, String(port), String(mb)])) as { bytes: number; sha256: string; ms: number };
  await new Promise<void>((resolve) => { if (sink.exitCode !== null) resolve(); else sink.once('exit', () => resolve()); });
  const got = JSON.parse(out.split('\n').find((l) => l.includes('sha256'))!) as { bytes: number; sha256: string };
  assert.equal(got.bytes, mb * 1024 * 1024);
  assert.equal(got.sha256, sent.sha256, 'the bytes arrived intact');
  return (sent.bytes * 8) / (sent.ms / 1000) / 1e6;
}
