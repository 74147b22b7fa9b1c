/**
 * vxtap as a service (issue #11): the notify protocol as systemd plays it,
 * /healthz and /readyz, /metrics linted by promtool and scraped by a real
 * Prometheus, and the unit file checked by systemd-analyze.
 *
 *          underlay bridge (ns vxt-svc-u), 192.168.96.0/24
 *     h1 .1 (vxtap, 10.48.1.0/24)        h2 .2 (vxtap, 10.48.2.0/24)
 *
 * systemd's side of sd_notify is a unix datagram socket that a small Python
 * listener binds (Node has no unix datagram sockets); the daemon finds it in
 * $NOTIFY_SOCKET, as under systemd.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needCommand, needNamespaces, waitFor } from '../helpers/netns';
import { Daemon, REPO } from '../helpers/daemon';
import { freePort } from '../helpers/etcd';

const HOSTS = { h1: '192.168.96.1', h2: '192.168.96.2' } as const;
const SUBNET = { h1: '10.48.1.0/24', h2: '10.48.2.0/24' } as const;
const HEALTHZ = 9101;

const LISTENER = `
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"t": time.time(), "msg": "bound"}), flush=True)
while True:
    d = s.recv(65536)
    print(json.dumps({"t": time.time(), "msg": d.decode()}), flush=True)
`;

/** systemd's side of the notify protocol: every datagram received, in order. */
class NotifyListener {
  readonly got: { t: number; msg: string }[] = [];
  private readonly child: ChildProcess;
  constructor(readonly path: string) {
    this.child = spawn('python3', ['-c', LISTENER, path], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    this.child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        this.got.push(JSON.parse(buf.slice(0, nl)) as { t: number; msg: string });
        buf = buf.slice(nl + 1);
      }
    });
  }
  bound(): Promise<void> {
    return waitFor('the notify listener is bound', () => this.got.some((g) => g.msg === 'bound'), 5000, 20);
  }
  has(re: RegExp): boolean {
    return this.got.some((g) => re.test(g.msg));
  }
  kill(): void {
    this.child.kill('SIGKILL');
  }
}

test('vxtap as a service: notify, health, metrics, Prometheus, the unit file', { timeout: 300_000 }, async (t) => {
  if (!needNamespaces(t) || !needCommand(t, 'promtool', 'prometheus') || !needCommand(t, 'prometheus', 'prometheus') || !needCommand(t, 'python3', 'python3')) return;
  const lab = new Lab('vxt-svc-');
  const dir = mkdtempSync(join(tmpdir(), 'vxtap-svc-'));
  const daemons: Daemon[] = [];
  const listeners: NotifyListener[] = [];
  try {
    lab.underlay('u', { h1: `${HOSTS.h1}/24`, h2: `${HOSTS.h2}/24` });
    for (const h of ['h1', 'h2'] as const) lab.exec(h, ['ip', 'route', 'add', 'default', 'dev', 'eth0']);
    const peers = (self: 'h1' | 'h2'): string => {
      const other = self === 'h1' ? 'h2' : 'h1';
      const path = join(dir, `${self}.json`);
      writeFileSync(path, JSON.stringify({ vni: 1, self: { subnet: SUBNET[self] }, peers: [{ subnet: SUBNET[other], publicIp: HOSTS[other] }] }));
      return path;
    };
    /** GET a path of h1's health listener, from inside h1 (it listens on h1's loopback). */
    const get = (path: string): { status: number; body: string } => {
      const script = `fetch('http://127.0.0.1:${HEALTHZ}${path}').then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })), (e) => { console.error(e.message); process.exit(3); })`;
      return JSON.parse(lab.exec('h1', [process.execPath, '-e', script])) as { status: number; body: string };
    };
    const healthFlags = ['--healthz-ip', '127.0.0.1', '--healthz-port', String(HEALTHZ)];

    await t.test('not ready while it cannot join: /healthz 200, /readyz 503 with the reason, no READY=1', async () => {
      const n = new NotifyListener(join(dir, 'notify-0.sock'));
      listeners.push(n);
      await n.bound();
      // etcd at an address nobody answers: the daemon retries, forever.
      const d = new Daemon(lab, 'h1', ['--etcd-endpoints', 'http://192.168.96.200:2379', '--subnet-file', join(dir, 'x.env'), ...healthFlags], { env: { NOTIFY_SOCKET: n.path } });
      daemons.push(d);
      await d.waitLog(/retrying/, 20000);
      assert.equal(get('/healthz').status, 200);
      const ready = get('/readyz');
      assert.equal(ready.status, 503);
      assert.match(ready.body, /not joined to the network yet/);
      assert.match(ready.body, /TAP is not up/);
      assert.ok(n.has(/^STATUS=starting/), JSON.stringify(n.got));
      assert.ok(!n.has(/READY=1/), 'READY=1 must wait until the daemon is up');
      assert.equal(await d.stop(), 0);
    });

    let h1!: Daemon;
    await t.test('READY=1 arrives when the daemon is up (TAP up, peers installed), STATUS says so', async () => {
      const n = new NotifyListener(join(dir, 'notify-1.sock'));
      listeners.push(n);
      await n.bound();
      h1 = new Daemon(lab, 'h1', ['--peers', peers('h1'), ...healthFlags], { env: { NOTIFY_SOCKET: n.path } });
      daemons.push(h1);
      await waitFor('READY=1', () => n.has(/READY=1/), 20000, 20);
      // When READY came, the route to the peer was already in the kernel and the "up" line logged.
      assert.ok(h1.lines.some((l) => /^vxtap is up/.test(l.msg)), 'READY=1 only after "vxtap is up"');
      assert.match(lab.exec('h1', ['ip', 'route', 'show', SUBNET.h2]), /via 10\.48\.2\.0 dev vxtap\.1 proto 118 onlink/);
      const ready = n.got.find((g) => /READY=1/.test(g.msg))!;
      assert.match(ready.msg, /STATUS=up: subnet 10\.48\.1\.0\/24, 1 peer\(s\)/);
      assert.match(ready.msg, new RegExp(`MAINPID=${h1.pid}`));
      const r = get('/readyz');
      assert.deepEqual([r.status, r.body], [200, 'ok\n']);
      daemons.push(await new Daemon(lab, 'h2', ['--peers', peers('h2')]).up());
      lab.exec('h1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.48.2.0']);
    });

    await t.test('/metrics passes promtool and says what happened: encap, decap, drops by reason, tables', () => {
      const m = get('/metrics');
      assert.equal(m.status, 200);
      const lint = lab.tryExec('h1', ['sh', '-c', `printf '%s' "$0" | promtool check metrics`, m.body]);
      assert.equal(lint.status, 0, `promtool check metrics:\n${lint.stdout}${lint.stderr}`);
      const value = (re: RegExp): number => Number(re.exec(m.body)?.[1] ?? NaN);
      assert.ok(value(/^vxtap_encap_frames_total (\d+)/m) >= 3, m.body);
      assert.ok(value(/^vxtap_decap_frames_total (\d+)/m) >= 3);
      assert.equal(value(/^vxtap_peers (\d+)/m), 1);
      assert.equal(value(/^vxtap_ready (\d+)/m), 1);
      for (const reason of ['runt', 'fdb-miss', 'unknown-vtep', 'vxlan-unknown-vni']) assert.match(m.body, new RegExp(`^vxtap_drops_total\\{reason="${reason}"\\} \\d+`, 'm'));
      assert.match(m.body, /^vxtap_napi_calls_total\{port="udp",direction="rx"\} [1-9]/m);
      assert.match(m.body, /^vxtap_process_resident_memory_bytes \d+/m);
      assert.match(m.body, /^# TYPE vxtap_lease_refusals_total counter/m);
    });

    await t.test('a real Prometheus scrapes it', async () => {
      const port = await freePort();
      const cfg = join(dir, 'prometheus.yml');
      writeFileSync(cfg, `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: vxtap\n    static_configs:\n      - targets: ['127.0.0.1:${HEALTHZ}']\n`);
      lab.spawn('h1', ['prometheus', `--config.file=${cfg}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`]);
      const query = (q: string): { metric: Record<string, string>; value: [number, string] }[] => {
        const script = `fetch('http://127.0.0.1:${port}/api/v1/query?query=' + encodeURIComponent(${JSON.stringify(q)})).then((r) => r.text()).then((x) => console.log(x), () => console.log('{"data":{"result":[]}}'))`;
        return (JSON.parse(lab.exec('h1', [process.execPath, '-e', script])) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
      };
      await waitFor('Prometheus has scraped vxtap', () => query('up{job="vxtap"}')[0]?.value[1] === '1', 60000, 500);
      await waitFor('vxtap_peers in Prometheus', () => query('vxtap_peers')[0]?.value[1] === '1', 30000, 500);
      assert.ok(Number(query('vxtap_encap_frames_total')[0]?.value[1]) >= 3);
      const drops = query('vxtap_drops_total');
      assert.ok(drops.some((d) => d.metric['reason'] === 'fdb-miss'), JSON.stringify(drops));
    });

    await t.test('a stalled event loop makes /healthz fail for a while; forwarding goes on after it', async () => {
      lab.exec('h1', ['kill', '-STOP', String(h1.pid)]);
      await new Promise((r) => setTimeout(r, 6000));
      lab.exec('h1', ['kill', '-CONT', String(h1.pid)]);
      const h = get('/healthz');
      assert.equal(h.status, 503);
      assert.match(h.body, /event loop stalled for [6-9]\.\d s/);
      lab.exec('h1', ['ping', '-c', '2', '-i', '0.2', '-W', '2', '10.48.2.0']);
    });

    await t.test('SIGTERM sends STOPPING=1 and exits 0', async () => {
      const n = listeners[listeners.length - 1]!;
      assert.equal(await h1.stop(), 0);
      assert.ok(n.has(/^STOPPING=1$/), JSON.stringify(n.got));
    });

    await t.test('the unit file passes systemd-analyze verify', (tt) => {
      if (!needCommand(tt, 'systemd-analyze', 'systemd')) return;
      // verify wants the ExecStart binary to exist; the unit's path is /opt/vxtap, here the checkout stands in.
      const unit = join(dir, 'vxtap.service');
      const text = readFileSync(join(REPO, 'contrib', 'systemd', 'vxtap.service'), 'utf8');
      writeFileSync(unit, text.replace(/\/opt\/vxtap/g, REPO));
      const r = lab.tryExec('h1', ['systemd-analyze', 'verify', unit]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
      assert.match(text, /^Type=notify$/m);
      assert.match(text, /^RestartPreventExitStatus=2$/m);
      assert.match(text, /^AmbientCapabilities=CAP_NET_ADMIN CAP_NET_RAW$/m);
      assert.match(text, /^DeviceAllow=\/dev\/net\/tun rw$/m);
    });
  } finally {
    for (const d of daemons) await d.stop().catch(() => undefined);
    for (const n of listeners) n.kill();
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
});
