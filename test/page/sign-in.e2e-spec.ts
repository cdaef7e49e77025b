import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser } from 'playwright-core';
import { launchBrowser, openPage, seriousViolations, signIn } from '../helpers/browser.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let browser: Browser;
beforeAll(async () => {
  [t, browser] = await Promise.all([createTestApp(), launchBrowser()]);
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('sign-in', () => {
  it('a deep link asks for sign-in, then shows the page it named; nothing leaves the origin', async () => {
    const { page, offOrigin, pageErrors, context } = await openPage(browser, t);
    await page.goto('/runs/0190a7b2-0000-7000-8000-000000000000');
    expect(await seriousViolations(page)).toEqual([]);
    await signIn(page);
    expect(new URL(page.url()).pathname).toBe('/runs/0190a7b2-0000-7000-8000-000000000000');
    expect((await context.cookies()).map((c) => c.name)).toContain('vitrine_session');
    expect(offOrigin).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('a wrong password shows the problem, and the form stays', async () => {
    const { page, context } = await openPage(browser, t);
    await page.goto('/');
    await page.locator('input[type=email]').fill('admin@test.local');
    await page.locator('input[type=password]').fill('not-the-password');
    await page.locator('input[type=password]').press('Enter');
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/email or password/i);
    await context.close();
  });
});
