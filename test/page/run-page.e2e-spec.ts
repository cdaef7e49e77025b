import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, openPage, screenshot, seriousViolations, signIn, type Watched } from '../helpers/browser.js';
import { adminToken, createMember, createRun, createSkill } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let browser: Browser;
let admin: string;
let skill: string;
beforeAll(async () => {
  // Stall sweeps every 200 ms, so a silent node is marked soon after its run's 5 s.
  [t, browser] = await Promise.all([createTestApp({ VITRINE_STALL_SWEEP_INTERVAL_MS: '200' }), launchBrowser()]);
  admin = await adminToken(t);
  skill = (await createSkill(t, admin)).name;
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

async function post(app: TestApp, reporterToken: string, runId: string, events: Record<string, unknown>[]): Promise<number> {
  const res = await app.http(reporterToken).post(`/api/v1/runs/${runId}/events`).send({ events });
  expect(res.status).toBe(200);
  return res.body.lastSeq as number;
}

async function openRun(runId: string, options: { app?: TestApp; dark?: boolean; email?: string; password?: string; query?: string } = {}): Promise<Watched & { errors: string[] }> {
  const watched = await openPage(browser, options.app ?? t);
  if (options.dark) await watched.page.emulateMedia({ colorScheme: 'dark' });
  await watched.page.goto(`/runs/${runId}${options.query ?? ''}`);
  await signIn(watched.page, options.email, options.password);
  return { ...watched, errors: watched.cspViolations };
}

const node = (page: Page, key: string, status?: string) => page.locator(status ? `[data-node-key="${key}"][data-status="${status}"]` : `[data-node-key="${key}"]`);
/** The page's run subscription is answered: what is posted from now on is pushed to it. */
const watching = (page: Page) => page.locator('main[data-watching="true"]').waitFor();

describe('run page', () => {
  it('draws the DAG, then follows posted events: status, percent, message, failure and its skipped downstream', async () => {
    const run = await createRun(t, admin, skill, { fetch: [], build: ['fetch'], test: ['build'], lint: [] }, { title: 'Nightly build' });
    await post(t, run.reporterToken, run.id, [{ node: 'lint', type: 'succeeded', output: { warnings: 0 } }]);
    const { page, context, offOrigin, pageErrors, errors } = await openRun(run.id);
    const workers: string[] = [];
    page.on('worker', (worker) => workers.push(worker.url()));
    await page.getByRole('heading', { name: 'Nightly build' }).waitFor();
    await node(page, 'lint', 'succeeded').waitFor();
    await node(page, 'fetch', 'pending').waitFor();
    // Status as a word in the node's box, beside its icon.
    await expect(node(page, 'fetch').locator('.status-word').textContent()).resolves.toBe('pending');
    await expect(node(page, 'fetch').locator('svg').count()).resolves.toBe(1);
    await page.locator('[data-testid="run-graph"][data-layout="full"]').waitFor();
    expect(workers).toEqual([expect.stringMatching(/\/assets\/layout\.worker-[\w-]+\.js$/)]);
    // The refined layout is kept for the run: a reload draws it without laying it out again.
    await page.reload();
    await page.locator('[data-testid="run-graph"][data-layout="full"]').waitFor();
    expect(workers).toHaveLength(1);
    await watching(page);

    await post(t, run.reporterToken, run.id, [{ node: 'fetch', type: 'progress', percent: 40, message: 'downloading sources' }]);
    await node(page, 'fetch', 'running').and(page.locator('[data-percent="40"]')).waitFor();
    await expect(node(page, 'fetch').locator('.rn-message').textContent()).resolves.toBe('downloading sources');
    await expect(page.locator('.run-status .status-word').textContent()).resolves.toBe('running');
    await expect(page.locator('.counts').textContent()).resolves.toBe('1 running2 pending1 succeeded');

    await post(t, run.reporterToken, run.id, [{ node: 'fetch', type: 'succeeded' }, { node: 'build', type: 'started' }, { node: 'build', type: 'failed', error: { message: 'compiler crashed', code: 'E_CC' } }]);
    await node(page, 'build', 'failed').waitFor();
    await node(page, 'test', 'skipped').waitFor();
    await expect(node(page, 'test').locator('.rn-message').textContent()).resolves.toBe('upstream failed');
    await expect(page.locator('.run-status .status-word').textContent()).resolves.toBe('failed');
    // The edge out of the failed node is marked; the others are not.
    await expect(page.locator('.react-flow__edge.from-failed').count()).resolves.toBe(1);
    await expect(page.locator('.react-flow__edge').count()).resolves.toBe(2);
    await expect(page.getByRole('button', { name: 'Cancel run' }).count()).resolves.toBe(0);

    // A count is a filter: it highlights its nodes.
    await page.locator('.count-filter[data-filter="failed"]').click();
    await expect(page.locator('.run-node.highlighted').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-node-key')))).resolves.toEqual(['build']);
    await expect(page.locator('.count-filter[data-filter="failed"]').getAttribute('aria-pressed')).resolves.toBe('true');

    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'run-page');
    expect(offOrigin).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('opens a node’s panel beside the graph, by click or keyboard: its log by level, its output, its error', async () => {
    const run = await createRun(t, admin, skill, { plan: [], apply: ['plan'] }, { title: 'Infra change' });
    const logs = Array.from({ length: 300 }, (_, i) => ({ node: 'plan', type: 'log', level: i % 50 === 0 ? 'warn' : 'info', message: `checked resource ${i}` }));
    await post(t, run.reporterToken, run.id, [{ node: 'plan', type: 'started' }, ...logs, { node: 'plan', type: 'succeeded', output: { resources: { add: 3, change: 1 }, summary: 'plan ok' } }]);
    await post(t, run.reporterToken, run.id, [{ node: 'apply', type: 'failed', error: { message: 'quota exceeded', code: 'QUOTA' } }]);
    const { page, context, pageErrors } = await openRun(run.id);
    await node(page, 'apply', 'failed').waitFor();

    await node(page, 'plan').focus();
    await page.keyboard.press('Enter');
    const panel = page.locator('#node-panel');
    await panel.getByRole('heading', { name: 'plan' }).waitFor();
    await expect(page.url()).toContain('node=plan');
    // The log is virtualised and starts at its end.
    const log = panel.getByRole('log');
    await log.locator('.log-line', { hasText: 'succeeded' }).waitFor();
    expect(await log.locator('.log-line').count()).toBeLessThan(100);
    await panel.getByRole('checkbox', { name: 'info' }).uncheck();
    await expect(log.getAttribute('aria-label')).resolves.toBe('Log of plan, 6 lines');
    await expect(log.locator('.log-line').first().textContent()).resolves.toMatch(/warn\s*checked resource 0/);
    await expect(panel.locator('.json').textContent()).resolves.toContain('summary: "plan ok"');

    await node(page, 'apply').click();
    await panel.getByRole('heading', { name: 'apply' }).waitFor();
    await expect(panel.locator('.np-error').textContent()).resolves.toBe('Error QUOTAquota exceeded');
    // Beside the graph, not over it.
    const [graph, box] = await Promise.all([page.locator('[data-testid="run-graph"]').boundingBox(), panel.boundingBox()]);
    expect(box!.x).toBeGreaterThanOrEqual(graph!.x + graph!.width);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'run-page-panel');
    await panel.getByRole('button', { name: /Close the panel/ }).click();
    await panel.waitFor({ state: 'detached' });
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('scrubs back to an earlier seq, by the URL and by keyboard, then back to Live', async () => {
    const run = await createRun(t, admin, skill, { a: [], b: ['a'] }, { title: 'Time travel' });
    // Stamped an hour back, one minute apart: a clock that ticked on would read an hour.
    const hourAgo = Date.now() - 3_600_000;
    await post(t, run.reporterToken, run.id, [{ node: 'a', type: 'progress', percent: 10, at: new Date(hourAgo).toISOString() }]);
    const progress = Array.from({ length: 30 }, (_, i) => ({ node: 'a', type: 'progress', percent: 11 + i, at: new Date(hourAgo + (i + 1) * 60_000).toISOString() }));
    await post(t, run.reporterToken, run.id, progress);
    const last = await post(t, run.reporterToken, run.id, [{ node: 'a', type: 'succeeded' }, { node: 'b', type: 'started' }]);
    expect(last).toBe(33);

    // A shared moment: seq 1, when only a had started, at 10%.
    const { page, context, pageErrors } = await openRun(run.id, { query: '?seq=1' });
    await node(page, 'a', 'running').and(page.locator('[data-percent="10"]')).waitFor();
    await node(page, 'b', 'pending').waitFor();
    await expect(page.locator('.scrub-banner').textContent()).resolves.toMatch(/^Viewing seq 1 of 33/);
    // Times read as at that seq (its event's stamp), not ticking on: a was started by the event itself.
    await page.locator('.run-head .facts', { hasText: 'Elapsed0s' }).waitFor();
    await expect(node(page, 'a').locator('.rn-duration').textContent()).resolves.toBe('0s');
    await screenshot(page, 'run-page-scrubbed');

    const scrubber = page.locator('[data-testid="scrubber"]');
    await scrubber.focus();
    await page.keyboard.press('ArrowRight');
    await node(page, 'a').and(page.locator('[data-percent="11"]')).waitFor();
    await page.keyboard.press('Shift+ArrowRight');
    await node(page, 'a').and(page.locator('[data-percent="21"]')).waitFor();
    await expect(scrubber.inputValue()).resolves.toBe('12');
    await expect(node(page, 'a').locator('.rn-duration').textContent()).resolves.toBe('11m 00s');
    expect(new URL(page.url()).searchParams.get('seq')).toBe('12');
    await page.keyboard.press('Shift+ArrowLeft');
    await node(page, 'a').and(page.locator('[data-percent="11"]')).waitFor();
    // Events posted while scrubbing do not move the view.
    await watching(page);
    await post(t, run.reporterToken, run.id, [{ node: 'b', type: 'progress', percent: 50 }]);
    await page.locator('.scrub-banner', { hasText: 'Viewing seq 2 of 34' }).waitFor();
    await node(page, 'b', 'pending').waitFor();

    await page.getByRole('button', { name: 'Live ⟶' }).click();
    await page.locator('.scrub-banner').waitFor({ state: 'detached' });
    await node(page, 'b', 'running').and(page.locator('[data-percent="50"]')).waitFor();
    await node(page, 'a', 'succeeded').waitFor();
    expect(new URL(page.url()).searchParams.get('seq')).toBeNull();
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('says "Reconnecting…" while the service restarts, then shows every event posted meanwhile', async () => {
    const run = await createRun(t, admin, skill, { only: [] }, { title: 'Through a restart' });
    const first = await createTestApp({ DATABASE_URL: t.config.databaseUrl! });
    const port = (first.server.address() as AddressInfo).port;
    let second: TestApp | undefined;
    try {
      const { page, context, pageErrors } = await openRun(run.id, { app: first });
      await node(page, 'only', 'pending').waitFor();
      await watching(page);
      await first.close();
      await page.getByRole('status').filter({ hasText: 'Reconnecting…' }).waitFor();
      // Posted to another instance while the page's is down: 40 logs and a progress.
      const logs = Array.from({ length: 40 }, (_, i) => ({ node: 'only', type: 'log', message: `while away ${i}` }));
      await post(t, run.reporterToken, run.id, [{ node: 'only', type: 'started' }, ...logs, { node: 'only', type: 'progress', percent: 70, message: 'after the gap' }]);
      second = await createTestApp({ DATABASE_URL: t.config.databaseUrl! }, { port });
      await node(page, 'only', 'running').and(page.locator('[data-percent="70"]')).waitFor();
      await page.getByRole('status').filter({ hasText: 'Reconnecting…' }).waitFor({ state: 'detached' });
      await post(t, run.reporterToken, run.id, [{ node: 'only', type: 'log', message: 'live again' }]);
      await node(page, 'only').click();
      const log = page.locator('#node-panel').getByRole('log');
      await log.locator('.log-line', { hasText: 'live again' }).waitFor();
      // Every event once, in order: 43 lines (started, 40 logs, the progress, the last log), their seqs without a gap.
      await log.evaluate((el) => (el.scrollTop = 0));
      await log.locator('.log-line[data-seq="1"]').waitFor();
      const seqs = await log.locator('.log-line').evaluateAll((lines) => lines.map((l) => Number(l.getAttribute('data-seq'))));
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));
      await expect(log.getAttribute('aria-label')).resolves.toBe('Log of only, 43 lines');
      expect(pageErrors).toEqual([]);
      await context.close();
    } finally {
      await second?.close();
      await first.close().catch(() => undefined);
    }
  });

  it('marks a node silent past its run’s limit as stalled, and clears it on its next event', async () => {
    const run = await createRun(t, admin, skill, { quiet: [] }, { title: 'Gone quiet', staleAfterSeconds: 5 });
    await post(t, run.reporterToken, run.id, [{ node: 'quiet', type: 'progress', percent: 30, message: 'thinking' }]);
    const { page, context } = await openRun(run.id);
    await node(page, 'quiet', 'running').waitFor();
    const marker = node(page, 'quiet').locator('.rn-stalled');
    await marker.waitFor({ timeout: 30_000 });
    await expect(marker.textContent()).resolves.toMatch(/^stalled · silent for \d+s$/);
    await page.locator('.count-filter[data-filter="stalled"]', { hasText: '1 stalled' }).waitFor();
    await screenshot(page, 'run-page-stalled');
    await post(t, run.reporterToken, run.id, [{ node: 'quiet', type: 'heartbeat' }]);
    await marker.waitFor({ state: 'detached' });
    await expect(node(page, 'quiet').locator('.rn-message').textContent()).resolves.toBe('thinking');
    await context.close();
  });

  it('opens a run too big to read whole at a readable zoom on its running node, with a map; fitted, a card keeps only its title and status', async () => {
    const nodes = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`n${i}`, []]));
    const run = await createRun(t, admin, skill, nodes, { title: 'Wide' });
    await post(t, run.reporterToken, run.id, [{ node: 'n0', type: 'progress', percent: 5, message: 'tiny' }]);
    const { page, context } = await openRun(run.id);
    await page.locator('[data-testid="run-graph"][data-layout="full"]').waitFor();
    await node(page, 'n0', 'running').and(page.locator('[data-percent="5"]')).waitFor();
    await expect(node(page, 'n0').locator('.rn-message').textContent()).resolves.toBe('tiny');
    await page.locator('.react-flow__minimap').waitFor();
    // Only what is in view is drawn.
    expect(await page.locator('.run-node').count()).toBeLessThan(60);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'run-page-big');
    await page.getByRole('button', { name: 'Fit View' }).click();
    await page.locator('.run-node .rn-message').first().waitFor({ state: 'detached' });
    await expect(node(page, 'n0').locator('.status-word').textContent()).resolves.toBe('running');
    const zoomIn = page.getByRole('button', { name: 'Zoom In' });
    for (let i = 0; i < 6; i++) await zoomIn.click();
    await page.locator('.run-node .rn-message').first().waitFor();
    await context.close();
  });

  it('cancels the run for an admin, after a confirmation', async () => {
    const run = await createRun(t, admin, skill, { first: [], second: ['first'] }, { title: 'To cancel' });
    await post(t, run.reporterToken, run.id, [{ node: 'first', type: 'started' }]);
    const { page, context } = await openRun(run.id);
    await node(page, 'first', 'running').waitFor();
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.getByRole('button', { name: 'Yes, cancel the run' }).click();
    await node(page, 'first', 'cancelled').waitFor();
    await node(page, 'second', 'cancelled').waitFor();
    await expect(page.locator('.run-status .status-word').textContent()).resolves.toBe('cancelled');
    await page.getByRole('button', { name: 'Cancel run' }).waitFor({ state: 'detached' });
    await context.close();
  });

  it('tells a member who may not cancel why, without trying', async () => {
    const member = await createMember(t, admin, 'member');
    const run = await createRun(t, admin, skill, { step: [] }, { title: 'Not theirs' });
    const { page, context } = await openRun(run.id, { email: member.email, password: member.password });
    await node(page, 'step', 'pending').waitFor();
    // aria-disabled, not disabled: it stays in the tab order and says why when pressed (force: Playwright
    // will not click what is aria-disabled, a mouse will).
    await page.locator('.cancel-button[aria-disabled="true"]').waitFor();
    await page.getByRole('button', { name: 'Cancel run' }).click({ force: true });
    await expect(page.getByRole('button', { name: 'Yes, cancel the run' }).count()).resolves.toBe(0);
    const alert = await page.locator('.cancel-denied').textContent();
    // The page asked nothing of the cancel route: the only denial audited for the run is this test's own.
    const denial = await t.http(member.token).post(`/api/v1/runs/${run.id}/cancel`);
    expect(denial.status).toBe(403);
    expect(alert).toBe(`Not cancelled: ${denial.body.detail}`);
    const denied = await t.db.query(`SELECT 1 FROM audit_events WHERE resource_id = $1 AND outcome = 'denied'`, [run.id]);
    expect(denied).toHaveLength(1);
    await node(page, 'step', 'pending').waitFor();
    await context.close();
  });

  it('says why not when the policy changed after the page opened, and cancels nothing', async () => {
    const member = await createMember(t, admin, 'member');
    const run = await createRun(t, member.token, skill, { step: [] }, { title: 'Theirs, for now' });
    const { page, context } = await openRun(run.id, { email: member.email, password: member.password });
    await node(page, 'step', 'pending').waitFor();
    await page.locator('.cancel-button:not([aria-disabled])').waitFor();
    expect((await t.http(admin).patch(`/api/v1/members/${member.id}`).send({ role: 'viewer' })).status).toBe(200);
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.getByRole('button', { name: 'Yes, cancel the run' }).click();
    const alert = page.locator('.cancel-denied');
    await alert.waitFor();
    const denial = await t.http(member.token).post(`/api/v1/runs/${run.id}/cancel`);
    expect(denial.status).toBe(403);
    await expect(alert.textContent()).resolves.toBe(`Not cancelled: ${denial.body.detail}`);
    await node(page, 'step', 'pending').waitFor();
    await context.close();
  });

  it('tells an auditor why not before they try', async () => {
    const auditor = await createMember(t, admin, 'auditor');
    const run = await createRun(t, admin, skill, { step: [] }, { title: 'Audited' });
    const explained = await t.http(auditor.token).post('/api/v1/policies/explain').send({ action: 'update', resource: { type: 'Run', id: run.id } });
    expect(explained.status).toBe(200);
    expect(explained.body.allowed).toBe(false);
    const { page, context } = await openRun(run.id, { email: auditor.email, password: auditor.password });
    const button = page.getByRole('button', { name: 'Cancel run' });
    await page.locator('.cancel-button[aria-disabled="true"]').waitFor();
    await button.focus();
    await page.keyboard.press('Enter');
    await expect(page.locator('.cancel-denied').textContent()).resolves.toBe(`Not cancelled: ${explained.body.reason}`);
    await expect(page.getByRole('button', { name: 'Yes, cancel the run' }).count()).resolves.toBe(0);
    await context.close();
  });

  it('says live updates stopped when a policy change takes the run from the viewer, and follows again once it is back', async () => {
    const current = (await t.http(admin).get('/api/v1/policies')).body as { version: number };
    const source = readFileSync(path.join(import.meta.dirname, '../../policies/default.yaml'), 'utf8');
    const strict = source.replace('roles: [admin, member, auditor, viewer]\n    actions: [read]\n    subject: Run', 'roles: [admin, member, auditor]\n    actions: [read]\n    subject: Run');
    expect(strict).not.toBe(source);
    const viewer = await createMember(t, admin, 'viewer');
    const run = await createRun(t, admin, skill, { step: [] }, { title: 'Watched by a viewer' });
    const { page, context } = await openRun(run.id, { email: viewer.email, password: viewer.password });
    await watching(page);
    try {
      expect((await t.http(admin).put('/api/v1/policies').set('Content-Type', 'application/yaml').send(strict)).status).toBe(200);
      const alert = page.getByRole('alert').filter({ hasText: 'Live updates stopped' });
      await alert.waitFor({ timeout: 2_000 });
      await expect(alert.textContent()).resolves.toContain('code: policy_denied');
      await post(t, run.reporterToken, run.id, [{ node: 'step', type: 'started' }]);
      await page.waitForTimeout(300);
      await node(page, 'step', 'pending').waitFor();
    } finally {
      expect((await t.http(admin).post(`/api/v1/policies/versions/${current.version}/activate`)).status).toBe(200);
    }
    // Allowed again: a reload follows the run.
    await page.reload();
    await node(page, 'step', 'running').waitFor();
    await watching(page);
    await post(t, run.reporterToken, run.id, [{ node: 'step', type: 'succeeded' }]);
    await node(page, 'step', 'succeeded').waitFor({ timeout: 2_000 });
    await context.close();
  });

  it('meets accessibility rules in the dark, and says when a run does not exist', async () => {
    const run = await createRun(t, admin, skill, { one: [], two: ['one'], three: ['one'] }, { title: 'After dark' });
    await post(t, run.reporterToken, run.id, [{ node: 'one', type: 'succeeded' }, { node: 'two', type: 'progress', percent: 60, message: 'halfway there' }]);
    const { page, context, offOrigin } = await openRun(run.id, { dark: true });
    await node(page, 'two', 'running').waitFor();
    await page.locator('[data-testid="run-graph"][data-layout]').waitFor();
    await node(page, 'two').click();
    await page.locator('#node-panel').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'run-page-dark');

    const missing = randomUUID();
    await page.goto(`/runs/${missing}`);
    await expect(page.getByRole('alert').textContent()).resolves.toContain(`Run ${missing} was not found`);
    expect(offOrigin).toEqual([]);
    await context.close();
  });
});
