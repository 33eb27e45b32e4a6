/**
 * Real headless Chromium for browser tests (Debian's `chromium`, driven by playwright-core).
 * `CHROMIUM_PATH` overrides where it is; `ensure-deps` installs it for `npm test`.
 */
import { existsSync } from 'node:fs';
import { chromium, devices, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`Chromium is not at ${CHROMIUM_PATH}: run \`npm test\` (it installs it) or set CHROMIUM_PATH`);
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Let videos play without a user gesture, as a muted autoplay video does on a phone.
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

/** A phone-sized context (Pixel 7: 412×915 CSS px, touch, mobile user agent). */
export function phoneContext(browser: Browser): Promise<BrowserContext> {
  return browser.newContext({ ...devices['Pixel 7'] });
}

/**
 * Records what a page does wrong: console errors, uncaught exceptions and CSP violations, so a
 * test can assert there were none.
 */
export function watchProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return problems;
}
