/**
 * A real headless browser for the page tests: Debian's chromium
 * (/usr/bin/chromium, from scripts/setup.sh) driven by playwright-core,
 * which never downloads a browser of its own. Run as root, so no sandbox;
 * no network chatter of its own (background networking, component updates,
 * sync, QUIC off), a fresh profile each time, removed on close.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { inCI } from './netns';

export const CHROMIUM = process.env.VXT_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Call first in a browser test: true when chromium is there; skips (or, under CI=true, fails) naming the package. */
export function needChromium(t: TestContext): boolean {
  if (existsSync(CHROMIUM)) return true;
  const why = `no ${CHROMIUM} (apt-get install chromium, or run scripts/setup.sh)`;
  if (inCI) throw new Error(`browser test cannot run under CI=true: ${why}`);
  t.skip(why);
  return false;
}

export interface Browser {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** Starts chromium with a fresh profile (playwright's persistent context is how it takes --user-data-dir). */
export async function openBrowser(viewport = { width: 1500, height: 900 }): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'vxtap-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport, timeout: 60_000,
  });
  const page = context.pages()[0] ?? await context.newPage();
  return {
    context, page,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
