/**
 * The screenshots of docs/lab-web.md, taken from the real page of a running
 * lab in headless chromium:
 *
 *   node dist/src/cli/main.js lab up --kernel-peer --prefix vxW-lab- --state-dir /tmp/W-lab
 *   node dist/test/tools/lab-web-screenshots.js --prefix vxW-lab- --state-dir /tmp/W-lab --name routed
 *
 * It serves the page itself (port 0), pings once so the counters have
 * moved, then saves docs/img/lab-web-<name>.png (the lab), -host.png (the
 * first host clicked) and -ping.png (a ping from the first host to the last,
 * caught in the middle of its animation).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeShell } from '../../src/lab/shell';
import { requireState } from '../../src/lab/state';
import { LabWebServer } from '../../src/lab/web/server';
import { openBrowser } from '../helpers/browser';

function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

async function main(): Promise<void> {
  const scope = { prefix: flag('prefix', 'vxlab-'), stateDir: flag('state-dir', '/run/vxtap-lab') };
  const name = flag('name', 'routed');
  const outDir = flag('out', join(__dirname, '..', '..', '..', 'docs', 'img'));
  mkdirSync(outDir, { recursive: true });
  const st = requireState(scope, '');
  const first = st.hosts[0]!;
  const last = st.hosts[st.hosts.length - 1]!;
  const web = new LabWebServer(scope, makeShell(null));
  const url = await web.listen({ port: 0 });
  const b = await openBrowser({ width: 1500, height: 940 });
  try {
    const { page } = b;
    await page.goto(url);
    await page.waitForSelector('body[data-ready="yes"]');
    // Some traffic first, so the counters and the trace panel have something.
    execFileSync('ip', ['netns', 'exec', first.containerNs, 'ping', '-c', '3', '-i', '0.2', last.containerIp!], { stdio: 'ignore' });
    await page.waitForTimeout(2500);
    await page.screenshot({ path: join(outDir, `lab-web-${name}.png`) });
    await page.click(`[data-host="${first.name}"] rect.box`);
    await page.waitForSelector('#detail-body table[data-table="fdb"]');
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(outDir, `lab-web-${name}-host.png`) });
    await page.selectOption('#ping-from', first.name);
    await page.selectOption('#ping-to', last.name);
    await page.click('#ping-go');
    await page.waitForSelector('#ping-steps li.shown:nth-child(3)', { timeout: 20_000 });
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(outDir, `lab-web-${name}-ping.png`) });
    await page.waitForSelector('#ping-steps[data-state="done"]', { timeout: 30_000 });
    process.stdout.write(`saved ${outDir}/lab-web-${name}{,-host,-ping}.png\n`);
  } finally {
    await b.close();
    await web.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
