/**
 * `vxtap lab web` in a real headless browser (Debian's chromium, driven by
 * playwright-core): a real lab with a kernel peer, the real `vxtap lab web`
 * process, the real page. The page draws every host of lab.json, its
 * counters move when traffic flows, a click on a host shows its FDB with the
 * peers' VTEPs, a ping from the page is animated with the hosts' decisions
 * (encap, decap), and the browser asks nothing of any other address.
 *
 * And without a lab: the server binds 127.0.0.1 only (any other address is
 * refused, by the class and by the command), and the page it serves names
 * no external URL.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, needNamespaces, nsPrefix } from '../helpers/netns';
import { assertNothingLeft, labCmd } from '../helpers/lab';
import { needEtcd } from '../helpers/etcd';
import { VXTAP } from '../helpers/daemon';
import { needChromium, openBrowser } from '../helpers/browser';
import { makeShell } from '../../src/lab/shell';
import { checkWebHost, LabWebServer, WEB_HOST } from '../../src/lab/web/server';
import type { LabState } from '../../src/lab/state';

const PREFIX = nsPrefix('vxt-weblab-');
const base = mkdtempSync(join(tmpdir(), 'vxtap-lab-web-test-'));
test.after(() => rmSync(base, { recursive: true, force: true }));

/** Starts `vxtap lab web --port 0` and resolves with its URL (from its first line) and the process. */
function startWeb(stateDir: string, extra: string[] = []): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, [VXTAP, 'lab', 'web', '--port', '0', '--prefix', PREFIX, '--state-dir', stateDir, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`lab web printed no URL in 20 s: ${out} ${err}`)), 20_000);
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /(http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ url: m[1]!, proc }); }
    });
    proc.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`lab web exited (${code}): ${out} ${err}`)); });
  });
}

function stopped(proc: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) { resolve(proc.exitCode); return; }
    proc.once('exit', (code) => resolve(code));
  });
}

/** External URLs in a text: http(s):// to anything but 127.0.0.1 or localhost. The SVG namespace is an identifier the browser never fetches. */
function externalUrls(text: string): string[] {
  return [...text.matchAll(/https?:\/\/[^\s'"`)<>]+/g)].map((m) => m[0])
    .filter((u) => !/^https?:\/\/(127\.0\.0\.1|localhost)([:/]|$)/.test(u) && u !== 'http://www.w3.org/2000/svg');
}

test('lab web binds 127.0.0.1 only, refuses any other address, and its page names no external URL', async () => {
  assert.equal(checkWebHost('127.0.0.1'), WEB_HOST);
  for (const bad of ['0.0.0.0', '::', '192.168.1.10', '::1', 'example.com']) {
    assert.throws(() => checkWebHost(bad), (e: Error & { code?: string }) => e.code === 'VXTAP_ERR_CONFIG' && /127\.0\.0\.1 only/.test(e.message), bad);
  }
  const noLab = join(base, 'no-lab');
  const web = new LabWebServer({ prefix: PREFIX, stateDir: noLab }, makeShell(null));
  await assert.rejects(web.listen({ port: 0, host: '0.0.0.0' }), /127\.0\.0\.1 only/);
  const url = await web.listen({ port: 0 });
  try {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const html = await (await fetch(url)).text();
    const js = await (await fetch(`${url}app.js`)).text();
    assert.match(html, /<script src="\/app\.js"><\/script>/, 'the page loads its script from the server itself');
    assert.ok(js.includes('/api/live'), 'the served script is the page\'s');
    assert.deepEqual(externalUrls(html), [], 'no external URL in the HTML');
    assert.deepEqual(externalUrls(js), [], 'no external URL in the script');
    // The scan sees a URL when there is one.
    assert.deepEqual(externalUrls('<link href="https://cdn.example.org/x.css">'), ['https://cdn.example.org/x.css']);
    // No lab: the API says so with the lab's code.
    const r = await fetch(`${url}api/topology`);
    assert.equal(r.status, 503);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'VXTAP_ERR_LAB_NONE');
  } finally {
    await web.close();
  }
  // The command refuses too, before it serves anything.
  const r = await labCmd(PREFIX, noLab, 'web', ['--host', '0.0.0.0', '--port', '0']);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /127\.0\.0\.1 only/);
});

function setup(t: TestContext): { stateDir: string } | null {
  if (!needNamespaces(t) || !needEtcd(t) || !needChromium(t)) return null;
  const stateDir = join(base, 'state');
  const guard = new Lab(PREFIX);
  t.after(async () => {
    await labCmd(PREFIX, stateDir, 'down');
    await guard.cleanup();
    rmSync(stateDir, { recursive: true, force: true });
  });
  return { stateDir };
}

test('lab web in chromium: every host drawn, counters move with traffic, a host\'s FDB, a ping animated with its decisions', { timeout: 300_000 }, async (t) => {
  const s = setup(t);
  if (s === null) return;
  const up = await labCmd(PREFIX, s.stateDir, 'up', ['--kernel-peer'], {}, 180_000);
  assert.equal(up.status, 0, `lab up: ${up.stdout}\n${up.stderr}`);
  const st = JSON.parse(readFileSync(join(s.stateDir, 'lab.json'), 'utf8')) as LabState;
  assert.equal(st.hosts.length, 4);

  const { url, proc } = await startWeb(s.stateDir);
  t.after(() => { if (proc.exitCode === null) proc.kill('SIGKILL'); });
  const b = await openBrowser();
  t.after(() => b.close());
  const { page } = b;
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="yes"]', { timeout: 20_000 });

  // Every host of lab.json is drawn, with its kind, and each tunnel between two hosts.
  for (const h of st.hosts) {
    assert.equal(await page.locator(`[data-host="${h.name}"][data-kind="${h.kind}"]`).count(), 1, `${h.name} is drawn`);
    assert.equal(await page.locator(`[data-container="${h.name}"]`).count(), 1, `${h.name}'s container is drawn`);
  }
  assert.equal(await page.locator('[data-tunnel]').count(), (4 * 3) / 2);

  // A counter, as the page shows it, before and after traffic.
  const counter = (host: string, key: string): Promise<number> =>
    page.locator(`[data-host="${host}"] [data-counter="${key}"]`).textContent().then((v) => Number(v));
  /** Polls the page until `pred` holds of what `read` gives (10 s). */
  const until = async <T>(what: string, read: () => Promise<T>, pred: (v: T) => boolean): Promise<T> => {
    const end = Date.now() + 10_000;
    for (;;) {
      const v = await read();
      if (pred(v)) return v;
      if (Date.now() > end) assert.fail(`${what}: still ${JSON.stringify(v)} after 10 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await until('h1\'s encap counter is a number', () => page.locator('[data-host="h1"] [data-counter="encap"]').textContent(), (v) => /^\d+$/.test(v ?? ''));
  await until('k1\'s decap counter is a number', () => page.locator('[data-host="k1"] [data-counter="decap"]').textContent(), (v) => /^\d+$/.test(v ?? ''));
  const before = await counter('h1', 'encap');
  const kBefore = await counter('k1', 'decap');
  const ping = await labCmd(PREFIX, s.stateDir, 'ping');
  assert.equal(ping.status, 0, `lab ping: ${ping.stdout}\n${ping.stderr}`);
  const after = await until('h1\'s encap counter on the page', () => counter('h1', 'encap'), (v) => v > before);
  assert.ok(after > before, 'h1\'s encap counter moved on the page');
  await until('k1\'s decap counter on the page (the kernel\'s rx packets)', () => counter('k1', 'decap'), (v) => v > kBefore);

  // The trace panel shows h1's last frames.
  await page.waitForSelector('#trace-list li[data-seq]', { timeout: 10_000 });

  // A host clicked: its FDB lists every peer's VTEP; its etcd record (the lease) is shown.
  await page.click('[data-host="h1"] rect.box');
  await page.waitForSelector('#detail-body table[data-table="fdb"]');
  const fdb = await page.locator('#detail-body table[data-table="fdb"]').innerText();
  for (const h of st.hosts.filter((x) => x.name !== 'h1')) assert.ok(fdb.includes(h.ip), `h1's FDB on the page lists ${h.name}'s VTEP ${h.ip}`);
  const etcd = await page.locator('#detail-body table[data-table="etcd"]').innerText();
  const h1 = st.hosts.find((x) => x.name === 'h1')!;
  assert.ok(etcd.includes(`/coreos.com/network/subnets/${h1.subnet!.replace('/', '-')}`), `h1's lease key is shown: ${etcd}`);

  // The same record through the API, asked for one host.
  const own = await (await fetch(`${url}api/etcd?host=h1`)).json() as { records: { key: string; host: string | null; leaseRemainingTtl: number | null }[] };
  assert.deepEqual(own.records.map((r) => `${r.host} ${r.key}`), [`h1 /coreos.com/network/subnets/${h1.subnet!.replace('/', '-')}`]);
  assert.ok((own.records[0]!.leaseRemainingTtl ?? 0) > 0, 'the lease has time left');

  // A tunnel clicked: both ends' FDB entries towards each other.
  await page.click('[data-tunnel="h1-k1"] circle.handle');
  await until('the tunnel\'s details', () => page.locator('#detail-title').textContent(), (v) => /tunnel h1/.test(v ?? ''));
  const ends = await page.locator('#detail-body').innerText();
  const k1 = st.hosts.find((x) => x.name === 'k1')!;
  assert.ok(ends.includes(k1.ip) && ends.includes(h1.ip), 'both ends\' VTEPs are shown');

  // A ping from the page: its steps, in order, with the decisions.
  await page.selectOption('#ping-from', 'h1');
  await page.selectOption('#ping-to', 'h2');
  await page.click('#ping-go');
  await page.waitForSelector('#ping-steps[data-state="done"]', { timeout: 60_000 });
  const decisions: string[] = [];
  for (const li of await page.locator('#ping-steps li').all()) decisions.push(`${await li.getAttribute('data-host')}:${await li.getAttribute('data-decision')}`);
  assert.ok(decisions.includes('h1:encap'), `h1 encapsulates the request: ${decisions.join(' ')}`);
  assert.ok(decisions.includes('h2:decap'), `h2 decapsulates it: ${decisions.join(' ')}`);
  assert.ok(decisions.indexOf('h1:encap') < decisions.indexOf('h2:decap'), 'in that order');
  assert.match(await page.locator('#ping-result').innerText(), /reply in/);

  // Nothing was asked of any other address than the page's own.
  assert.ok(requests.length > 0);
  assert.deepEqual(requests.filter((u) => !u.startsWith(url)), [], 'every request of the page went to the lab web server');

  // Ctrl-C stops it.
  proc.kill('SIGINT');
  assert.equal(await stopped(proc), 0);

  await b.close();
  const down = await labCmd(PREFIX, s.stateDir, 'down');
  assert.equal(down.status, 0, down.stderr);
  assertNothingLeft(PREFIX, s.stateDir);
});
