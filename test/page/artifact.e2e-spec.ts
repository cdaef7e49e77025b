import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, openPage, screenshot, seriousViolations, signIn, type Watched } from '../helpers/browser.js';
import { adminToken, createArtifact, createMember, createRun, createSkill, createTeam } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let browser: Browser;
let admin: string;
beforeAll(async () => {
  [t, browser] = await Promise.all([createTestApp(), launchBrowser()]);
  admin = await adminToken(t);
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

async function signedIn(path: string, email?: string, password?: string): Promise<Watched & { csp: string[] }> {
  const watched = await openPage(browser, t);
  await watched.page.goto(path);
  await signIn(watched.page, email, password);
  return { ...watched, csp: watched.cspViolations };
}

const html = (text: string) => ({ format: 'html', body: `<!doctype html><title>t</title><h1 id="marker">${text}</h1>` });

/** The text of the frame the page shows (not one loading behind it). */
const shown = (page: Page) => page.frameLocator('.artifact-frame iframe.shown').locator('#marker');

describe('artifact page', () => {
  it('shows the artifact and its content in a sandboxed frame, and follows a new revision within 1 s', async () => {
    const skill = (await createSkill(t, admin)).name;
    const team = await createTeam(t, admin, 'Research');
    const run = await createRun(t, admin, skill, { write: [] }, { title: 'Weekly digest' });
    const artifact = await createArtifact(t, admin, { title: 'Digest dashboard', kind: 'dashboard', runId: run.id, teamId: team.id, labels: ['weekly', 'ops'], content: html('Revision one') });

    const { page, context, offOrigin, pageErrors, csp } = await signedIn(`/artifacts/${artifact.id}`);
    await expect(shown(page).textContent()).resolves.toBe('Revision one');
    const frame = page.locator('.artifact-frame iframe.shown');
    await expect(frame.getAttribute('sandbox')).resolves.toBe('allow-scripts');
    await expect(frame.getAttribute('src')).resolves.toBe(`/api/v1/artifacts/${artifact.id}/render?revision=1`);
    await expect(page.locator('h1').textContent()).resolves.toBe('Digest dashboard');
    // Names (owner, team, run) arrive by their own reads.
    for (const fact of ['dashboard', 'internal', 'Administrator', 'Research', 'Weekly digest', '1 · live']) await page.locator('.facts').getByText(fact, { exact: true }).waitFor();
    await expect(page.locator('.facts a[href="/runs/' + run.id + '"]').count()).resolves.toBe(1);
    await expect(page.getByRole('list', { name: 'Labels and flags' }).innerText()).resolves.toMatch(/weekly\s+ops/);

    // The run's reporter writes a new revision: it replaces the shown one without a reload.
    await page.locator('[data-connection="live"]').waitFor({ state: 'attached' });
    const before = await page.evaluate(() => performance.timeOrigin);
    const put = await t.http(run.reporterToken).put(`/api/v1/artifacts/${artifact.id}/content`).send({ ...html('Revision two'), message: 'second pass' });
    expect(put.status).toBe(200);
    await page.frameLocator('.artifact-frame iframe.shown').getByText('Revision two').waitFor({ timeout: 1_000 });
    expect(await page.evaluate(() => performance.timeOrigin)).toBe(before);
    await expect(page.locator('.artifact-frame iframe').count()).resolves.toBe(1);
    await page.getByRole('button', { name: /Revision 2 latest second pass/ }).waitFor();

    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'artifact');
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'artifact-dark');
    expect(offOrigin).toEqual([]);
    expect(pageErrors).toEqual([]);
    expect(csp).toEqual([]);
    await context.close();
  });

  it('shows an older revision on request, keeps it while new ones arrive, and goes back to the latest', async () => {
    const artifact = await createArtifact(t, admin, { title: 'Changelog', content: html('One') });
    expect((await t.http(admin).put(`/api/v1/artifacts/${artifact.id}/content`).send(html('Two'))).status).toBe(200);
    const { page, context } = await signedIn(`/artifacts/${artifact.id}`);
    await expect(shown(page).textContent()).resolves.toBe('Two');
    await page.getByRole('button', { name: /^Revision 1\b/ }).click();
    await page.waitForURL(`**/artifacts/${artifact.id}?revision=1`);
    await page.frameLocator('.artifact-frame iframe.shown').getByText('One').waitFor();
    await expect(page.getByRole('status').filter({ hasText: 'Viewing revision 1 of 2' }).count()).resolves.toBe(1);

    await page.locator('[data-connection="live"]').waitFor({ state: 'attached' });
    expect((await t.http(admin).put(`/api/v1/artifacts/${artifact.id}/content`).send(html('Three'))).status).toBe(200);
    await page.getByText('Viewing revision 1 of 3').waitFor({ timeout: 1_000 });
    await expect(shown(page).textContent()).resolves.toBe('One');

    await page.getByRole('button', { name: 'Show the latest, live ⟶' }).click();
    await page.frameLocator('.artifact-frame iframe.shown').getByText('Three').waitFor();
    expect(new URL(page.url()).search).toBe('');
    // A reload of a pinned view (a deep link) shows that revision again.
    await page.goto(`/artifacts/${artifact.id}?revision=2`);
    await page.frameLocator('.artifact-frame iframe.shown').getByText('Two').waitFor();
    await context.close();
  });

  it('makes a share link and shows its URL, and lists it with its expiry', async () => {
    const artifact = await createArtifact(t, admin, { title: 'Explainer', content: html('Shareable') });
    const { page, context } = await signedIn(`/artifacts/${artifact.id}`);
    await page.getByText('Not shared yet.').waitFor();
    await page.getByLabel('Expires in').selectOption({ label: '1 day' });
    await page.getByRole('button', { name: 'Share link' }).click();
    const url = await page.getByLabel('New link — shown only now; copy it').inputValue();
    expect(url).toMatch(new RegExp(`/s/vtr_shr_[A-Za-z0-9_-]{43}$`));
    await page.locator('.shares .share-valid').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'artifact-shared');
    await expect(page.locator('.shares').innerText()).resolves.toMatch(/Link\s+valid\s+follows latest[\s\S]*expires tomorrow/);
    const shares = (await t.http(admin).get(`/api/v1/artifacts/${artifact.id}/shares`)).body.items as { expiresAt: string }[];
    expect(shares).toHaveLength(1);
    expect(Date.parse(shares[0]!.expiresAt) - Date.now()).toBeGreaterThan(86_000_000);

    // Revoking it from the page ends it.
    await page.getByRole('button', { name: /^Revoke/ }).click();
    await page.locator('.shares .share-revoked').waitFor();
    expect((await t.http(admin).get(`/api/v1/artifacts/${artifact.id}/shares`)).body.items[0].state).toBe('revoked');
    await context.close();
  });

  it('shows the policy’s reason when a link is denied, and makes none', async () => {
    const artifact = await createArtifact(t, admin, { title: 'Incident review', kind: 'incident', classification: 'confidential', content: html('Sensitive') });
    const { page, context, pageErrors } = await signedIn(`/artifacts/${artifact.id}`);
    await shown(page).waitFor();
    await page.getByRole('button', { name: 'Share link' }).click();
    const alert = page.getByRole('alert').filter({ hasText: 'Policy does not allow this link' });
    await expect(alert.innerText()).resolves.toContain('Confidential artifacts are shared only with a team or the org, never by link');
    await expect(alert.innerText()).resolves.toContain('Rule confidential-stays-in-team-or-org');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'artifact-share-denied');
    expect((await t.http(admin).get(`/api/v1/artifacts/${artifact.id}/shares`)).body.items).toEqual([]);
    await expect(page.locator('.created-link').count()).resolves.toBe(0);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('a viewer may read but not share: the denial names the rule that did not allow it', async () => {
    const viewer = await createMember(t, admin, 'viewer');
    const artifact = await createArtifact(t, admin, { title: 'Org notes', content: html('Notes') });
    const { page, context } = await signedIn(`/artifacts/${artifact.id}`, viewer.email, viewer.password);
    await shown(page).waitFor();
    await page.getByRole('button', { name: 'Share link' }).click();
    await expect(page.getByRole('alert').filter({ hasText: 'Policy does not allow this link' }).innerText()).resolves.toContain('No rule allows it');
    await context.close();
  });

  it('shows a run summary drawn from its run', async () => {
    const skill = (await createSkill(t, admin)).name;
    const run = await createRun(t, admin, skill, { gather: [], report: ['gather'] }, { title: 'Summarised run' });
    const created = await t.http(admin).post('/api/v1/artifacts').send({ title: 'Run summary', kind: 'run-summary', runId: run.id });
    expect(created.status).toBe(201);
    const { page, context } = await signedIn(`/artifacts/${created.body.id}`);
    await page.frameLocator('.artifact-frame iframe.shown').getByText('Summarised run').waitFor();
    await expect(page.locator('.artifact-frame iframe.shown').getAttribute('src')).resolves.toBe(`/api/v1/artifacts/${created.body.id}/render`);
    await expect(page.locator('.facts').innerText()).resolves.toContain('live from its run');
    await expect(page.getByText('A run summary has no stored revisions').count()).resolves.toBe(1);
    // Nothing to pin: a link to it follows the run.
    await expect(page.getByLabel(/Pin to revision/).count()).resolves.toBe(0);
    await context.close();
  });

  it('shows an unknown artifact’s problem', async () => {
    const { page, context } = await signedIn('/artifacts/0190a7b2-0000-7000-8000-000000000000');
    await expect(page.getByRole('alert').innerText()).resolves.toMatch(/not found/i);
    await context.close();
  });
});
