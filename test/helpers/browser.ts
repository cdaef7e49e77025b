import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Page, type Request } from 'playwright-core';
import { ADMIN_EMAIL, ADMIN_PASSWORD, type TestApp } from './test-app.js';

/** Debian's Chromium (`.ci/run` installs it); VITRINE_CHROMIUM names another. */
export const CHROMIUM = process.env.VITRINE_CHROMIUM ?? '/usr/bin/chromium';

/** Screenshots the browser tests keep (CI keeps this folder as the run's artifacts). */
export const SCREENSHOTS = path.resolve('test-artifacts', 'screenshots');

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface Watched {
  context: BrowserContext;
  page: Page;
  /** Every request the pages of this context made to another origin than the app's. */
  offOrigin: string[];
  /** Uncaught errors in the page. */
  pageErrors: string[];
  /** Content-Security-Policy violations, which the console reports (they are no page errors). */
  cspViolations: string[];
}

/** A fresh context (its own cookies) and page on the app, recording every request that leaves the app's origin. */
export async function openPage(browser: Browser, t: TestApp): Promise<Watched> {
  const context = await browser.newContext({ baseURL: t.url });
  const origin = new URL(t.url).origin;
  const offOrigin: string[] = [];
  const pageErrors: string[] = [];
  const check = (request: Request) => {
    const url = request.url();
    if (/^(data|blob|about):/.test(url)) return;
    if (new URL(url).origin !== origin) offOrigin.push(url);
  };
  context.on('request', check);
  const cspViolations: string[] = [];
  context.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) cspViolations.push(message.text());
  });
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  return { context, page, offOrigin, pageErrors, cspViolations };
}

/** Signs in through the form (API.md hooks: an email and a password input, Enter submits). */
export async function signIn(page: Page, email = ADMIN_EMAIL, password = ADMIN_PASSWORD): Promise<void> {
  await page.locator('input[type=email]').fill(email);
  await page.locator('input[type=password]').fill(password);
  await page.locator('input[type=password]').press('Enter');
  await page.locator('input[type=password]').waitFor({ state: 'detached' });
}

/** axe's serious and critical violations on the page as it is now, as readable lines (empty: none). */
export async function seriousViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')})`);
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
