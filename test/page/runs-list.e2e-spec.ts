import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, openPage, screenshot, seriousViolations, signIn, type Watched } from '../helpers/browser.js';
import { adminToken, createRun, createSkill, createTeam } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let browser: Browser;
let admin: string;
let skill: string;
beforeAll(async () => {
  [t, browser] = await Promise.all([createTestApp(), launchBrowser()]);
  admin = await adminToken(t);
  skill = (await createSkill(t, admin)).name;
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

async function post(reporterToken: string, runId: string, events: Record<string, unknown>[]): Promise<void> {
  const res = await t.http(reporterToken).post(`/api/v1/runs/${runId}/events`).send({ events });
  expect(res.status).toBe(200);
}

const row = (page: Page, runId: string) => page.locator(`tr[data-run-id="${runId}"]`);

/** The page is connected to `/live` (the row watches are made on it). */
const connected = (page: Page) => page.locator('[data-connection="live"]').waitFor({ state: 'attached' });

async function signedIn(path: string, dark = false): Promise<Watched & { errors: string[] }> {
  const watched = await openPage(browser, t);
  if (dark) await watched.page.emulateMedia({ colorScheme: 'dark' });
  await watched.page.goto(path);
  await signIn(watched.page);
  return { ...watched, errors: watched.cspViolations };
}

describe('runs list', () => {
  it('says how to start a run when the org has none', async () => {
    const other = { email: `admin-${randomBytes(4).toString('hex')}@empty.test`, name: 'Empty org admin', password: `pw-${randomBytes(8).toString('hex')}` };
    expect((await t.http(admin).post('/api/v1/orgs').send({ name: `empty-${randomBytes(4).toString('hex')}`, admin: other })).status).toBe(201);
    const { page, context } = await openPage(browser, t);
    await page.goto('/');
    await signIn(page, other.email, other.password);
    await expect(page.locator('.state.empty').textContent()).resolves.toBe('No runs yet — start one with the Reporter or npm run demo');
    await context.close();
  });

  it('shows runs newest first, and a status change arrives within 1 s without a reload', async () => {
    const team = await createTeam(t, admin, 'Platform');
    const first = await createRun(t, admin, skill, { fetch: [], build: ['fetch'] }, { title: 'Nightly import', teamId: team.id, labels: { env: 'prod' } });
    const second = await createRun(t, admin, skill, { lint: [] }, { title: 'Docs refresh' });
    const third = await createRun(t, admin, skill, { plan: [], apply: ['plan'], verify: ['apply'] }, { title: 'Release train', labels: { env: 'staging', owner: 'ana' } });
    await post(third.reporterToken, third.id, [{ node: 'plan', type: 'started' }]);

    const { page, context, offOrigin, pageErrors, errors } = await signedIn('/');
    await row(page, first.id).waitFor();
    const order = await page.locator('tr[data-run-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id')));
    expect(order.filter((id) => [first.id, second.id, third.id].includes(id!))).toEqual([third.id, second.id, first.id]);
    // Status as an icon and a word; the team by name; labels; node counts by status.
    await expect(row(page, third.id).locator('.col-status').textContent()).resolves.toBe('running');
    await expect(row(page, first.id).locator('.col-status').textContent()).resolves.toBe('pending');
    await expect(row(page, first.id).locator('.col-status svg').count()).resolves.toBe(1);
    await row(page, first.id).locator('.col-team').getByText('Platform', { exact: true }).waitFor();
    await expect(row(page, third.id).locator('.labels').textContent()).resolves.toBe('env: stagingowner: ana');
    await expect(row(page, third.id).locator('.counts').textContent()).resolves.toBe('1 running2 pending');

    await connected(page);
    await post(first.reporterToken, first.id, [{ node: 'fetch', type: 'started' }]);
    await row(page, first.id).and(page.locator('[data-status="running"]')).waitFor({ timeout: 1_000 });
    await expect(row(page, first.id).locator('.col-status').textContent()).resolves.toBe('running');

    // A failure stands out: the row says so, and the summary counts it.
    await post(first.reporterToken, first.id, [{ node: 'fetch', type: 'failed', error: { message: 'upstream 503' } }]);
    await row(page, first.id).and(page.locator('[data-status="failed"].attention-failed')).waitFor({ timeout: 1_000 });
    await expect(row(page, first.id).locator('.counts').textContent()).resolves.toBe('1 failed1 skipped');
    await expect(page.locator('.attention-summary').textContent()).resolves.toContain('1 failed');
    // Ended: its duration comes from the run's own end time, read once it ended.
    await row(page, first.id).locator('.col-duration .ended').waitFor();
    await expect(row(page, first.id).locator('.col-duration .ended').textContent()).resolves.toBe('ended just now');

    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'runs-list');
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'runs-list-dark');
    expect(offOrigin).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('puts a run started after the list loaded at the top, and watches it', async () => {
    const { page, context } = await signedIn('/');
    await page.locator('tr[data-run-id]').first().waitFor();
    const run = await createRun(t, admin, skill, { a: [] }, { title: 'Started later' });
    // Told over /live (subscribe {runs}), the list reads its first page again.
    await row(page, run.id).waitFor({ timeout: 10_000 });
    await expect(page.locator('tr[data-run-id]').first().getAttribute('data-run-id')).resolves.toBe(run.id);
    await post(run.reporterToken, run.id, [{ node: 'a', type: 'started' }]);
    await row(page, run.id).and(page.locator('[data-status="running"]')).waitFor({ timeout: 1_000 });
    await context.close();
  });

  it('puts a run started while its connection was down at the top once it is back', async () => {
    await createRun(t, admin, skill, { a: [] }, { title: 'Started before' });
    const first = await createTestApp({ DATABASE_URL: t.config.databaseUrl! });
    const port = (first.server.address() as AddressInfo).port;
    let second: TestApp | undefined;
    try {
      const { page, context } = await openPage(browser, first);
      await page.goto('/');
      await signIn(page);
      await page.locator('tr[data-run-id]').first().waitFor();
      await connected(page);
      await first.close();
      await page.locator('[data-connection="live"]').waitFor({ state: 'detached' });
      // Started on another instance while the page's is down: no notice reaches the page for it.
      const run = await createRun(t, admin, skill, { a: [] }, { title: 'Started while away' });
      second = await createTestApp({ DATABASE_URL: t.config.databaseUrl! }, { port });
      // Socket.IO's reconnect backs off up to 5 s between tries.
      await connected(page);
      await row(page, run.id).waitFor({ timeout: 5_000 });
      await expect(page.locator('tr[data-run-id]').first().getAttribute('data-run-id')).resolves.toBe(run.id);
      await context.close();
    } finally {
      await second?.close();
      await first.close().catch(() => undefined);
    }
  });

  it('a run that goes silent is marked stalled in its row', async () => {
    const run = await createRun(t, admin, skill, { wait: [] }, { title: 'Slow crawler', staleAfterSeconds: 5 });
    await post(run.reporterToken, run.id, [{ node: 'wait', type: 'started' }]);
    const { page, context } = await signedIn('/');
    await row(page, run.id).and(page.locator('.attention-stalled')).waitFor({ timeout: 20_000 });
    await expect(row(page, run.id).locator('.stalled-note').textContent()).resolves.toBe('stalled');
    await post(run.reporterToken, run.id, [{ node: 'wait', type: 'heartbeat' }]);
    await row(page, run.id).and(page.locator(':not(.attention)')).waitFor({ timeout: 1_000 });
    await context.close();
  });

  it('keeps its filters in the URL: they survive a reload and a deep link opens them', async () => {
    const team = await createTeam(t, admin, 'Search');
    const prodFailed = await createRun(t, admin, skill, { a: [] }, { title: 'Prod failure', teamId: team.id, labels: { env: 'prod', tier: 'gold' } });
    await post(prodFailed.reporterToken, prodFailed.id, [{ node: 'a', type: 'failed', error: { message: 'boom' } }]);
    const prodOk = await createRun(t, admin, skill, { a: [] }, { title: 'Prod success', teamId: team.id, labels: { env: 'prod', tier: 'gold' } });
    await post(prodOk.reporterToken, prodOk.id, [{ node: 'a', type: 'succeeded' }]);
    const otherTeam = await createRun(t, admin, skill, { a: [] }, { title: 'Elsewhere', labels: { env: 'prod', tier: 'gold' } });

    const { page, context } = await signedIn('/');
    await row(page, prodOk.id).waitFor();
    await page.getByLabel('Status').selectOption('failed');
    await page.getByLabel('Team').selectOption({ label: 'Search' });
    await page.getByLabel('Label', { exact: true }).fill('tier:gold');
    await page.getByLabel('Label', { exact: true }).press('Enter');
    await page.waitForURL((url) => url.searchParams.getAll('label').includes('tier:gold'));
    const url = new URL(page.url());
    expect(Object.fromEntries(url.searchParams)).toEqual({ status: 'failed', team: team.id, label: 'tier:gold' });
    await row(page, prodOk.id).waitFor({ state: 'detached' });
    await expect(page.locator('tr[data-run-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run-id')))).resolves.toEqual([prodFailed.id]);

    await page.reload();
    await row(page, prodFailed.id).waitFor();
    await expect(page.getByLabel('Status').inputValue()).resolves.toBe('failed');
    await expect(page.getByLabel('Team').inputValue()).resolves.toBe(team.id);
    await expect(page.getByRole('list', { name: 'Label filters' }).textContent()).resolves.toBe('tier:gold');
    await expect(page.locator('tr[data-run-id]').count()).resolves.toBe(1);

    // A label in a row is a filter too; removing a filter widens the list again.
    await page.getByRole('button', { name: 'Remove label filter tier:gold' }).click();
    await page.getByLabel('Status').selectOption('');
    await row(page, prodOk.id).waitFor();
    await expect(row(page, otherTeam.id).count()).resolves.toBe(0);

    // A deep link another person sends.
    const other = await openPage(browser, t);
    await other.page.goto(`/?status=succeeded&label=env%3Aprod`);
    await signIn(other.page);
    await row(other.page, prodOk.id).waitFor();
    await expect(other.page.locator('tr[data-run-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-status')))).resolves.toEqual(['succeeded']);
    await other.context.close();
    await context.close();
  });

  it('says when nothing matches, and shows the problem for a filter the API refuses', async () => {
    const { page, context } = await signedIn('/?label=nothing%3Ahere');
    await expect(page.locator('.state.empty').textContent()).resolves.toBe('No runs match these filters. Clear filters');
    await page.goto('/?team=not-a-team');
    await expect(page.getByRole('alert').textContent()).resolves.toContain('teamId');
    await page.getByRole('button', { name: 'Clear filters' }).first().click();
    await page.locator('tr[data-run-id]').first().waitFor();
    expect(new URL(page.url()).search).toBe('');
    await context.close();
  });

  it('pages with Load more', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 52; i++) ids.push((await createRun(t, admin, skill, { a: [] }, { title: `Batch ${i}`, labels: { batch: 'paging' } })).id);
    const { page, context } = await signedIn('/?label=batch%3Apaging');
    await row(page, ids[51]!).waitFor();
    await expect(page.locator('tr[data-run-id]').count()).resolves.toBe(50);
    await page.getByRole('button', { name: 'Load more' }).click();
    await row(page, ids[0]!).waitFor();
    await expect(page.locator('tr[data-run-id]').count()).resolves.toBe(52);
    await expect(page.getByRole('button', { name: 'Load more' }).count()).resolves.toBe(0);
    await context.close();
  });

  it('works by keyboard, with focus always visible: skip to the list, open a run with Enter', async () => {
    const run = await createRun(t, admin, skill, { a: [] }, { title: 'Keyboard run' });
    const { page, context } = await signedIn('/');
    await row(page, run.id).waitFor();
    await page.keyboard.press('Tab');
    const skip = page.getByRole('link', { name: 'Skip to content' });
    await expect(skip.evaluate((el) => el === el.ownerDocument.activeElement)).resolves.toBe(true);
    expect((await skip.boundingBox())!.y).toBeGreaterThanOrEqual(0);
    await page.keyboard.press('Enter');
    const focused = () =>
      page.locator(':focus').evaluate((el) => {
        const style = el.ownerDocument.defaultView!.getComputedStyle(el);
        return { text: el.textContent, outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0 };
      });
    const seen: string[] = [];
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      const now = await focused();
      expect({ element: now.text, outline: now.outline }).toEqual({ element: now.text, outline: true });
      seen.push(now.text ?? '');
      if (now.text === 'Keyboard run') break;
    }
    // The filters come before the list, then the newest run.
    expect(seen.slice(0, 4)).toEqual(expect.arrayContaining([expect.stringContaining('All statuses'), expect.stringContaining('All teams'), 'Add']));
    expect(seen[seen.length - 1]).toBe('Keyboard run');
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/runs/${run.id}`);
    await context.close();
  });

  it('signs out: the sign-in form returns and the session no longer works', async () => {
    const { page, context } = await signedIn('/');
    await page.locator('main').waitFor();
    await expect(page.locator('header').textContent()).resolves.toContain('Administrator');
    const session = (await context.cookies()).find((c) => c.name === 'vitrine_session')!;
    expect(session).toBeDefined();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.locator('input[type=password]').waitFor();
    await expect((await page.request.get('/api/v1/me')).status()).toBe(401);
    // The session itself ended on the server, not only the cookie in this browser.
    const replay = await fetch(`${t.url}/api/v1/me`, { headers: { cookie: `vitrine_session=${session.value}` } });
    expect(replay.status).toBe(401);
    await context.close();
  });

  it('says so when signing out fails, and stays signed in', async () => {
    const { page, context } = await signedIn('/');
    await page.locator('main').waitFor();
    await page.route('**/api/v1/auth/logout', (route) => route.abort('connectionrefused'));
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect(page.locator('header [role=alert]').textContent()).resolves.toMatch(/^Not signed out: .*cannot be reached/);
    await expect(page.locator('input[type=password]').count()).resolves.toBe(0);
    await expect((await page.request.get('/api/v1/me')).status()).toBe(200);
    await context.close();
  });
});
