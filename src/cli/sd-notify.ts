/**
 * The service manager's readiness protocol (sd_notify(3)): when systemd
 * starts vxtap as `Type=notify`, it puts a unix datagram socket's path in
 * $NOTIFY_SOCKET and waits for `READY=1`. vxtap sends it once it is up
 * (TAP up, lease held, peers installed: the "vxtap is up" line), `STATUS=`
 * lines as it goes, and `STOPPING=1` when a signal stops it. Without
 * $NOTIFY_SOCKET (not under systemd) every call does nothing.
 */
import type { Logger } from 'pino';
import { loadAddon } from '../io/native';

export class Notifier {
  private readonly path: string | null;

  constructor(private readonly log: Logger, env: NodeJS.ProcessEnv = process.env) {
    const p = env['NOTIFY_SOCKET'];
    this.path = p !== undefined && p !== '' ? p : null;
  }

  get enabled(): boolean {
    return this.path !== null;
  }

  ready(status: string): void {
    this.send(`READY=1\nSTATUS=${status}\nMAINPID=${process.pid}`);
  }

  status(status: string): void {
    this.send(`STATUS=${status}`);
  }

  stopping(): void {
    this.send('STOPPING=1');
  }

  private send(msg: string): void {
    if (this.path === null) return;
    try {
      loadAddon().notify(this.path, msg);
    } catch (err) {
      // The service manager went away or the path is wrong: say so (a handful of messages in a daemon's life), never stop forwarding for it.
      this.log.warn({ err }, `NOTIFY_SOCKET ${this.path}: ${(err as Error).message}`);
    }
  }
}
