import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, Frame, Page, Request } from 'playwright-core';
import { adminToken, createArtifact, createMember, createRun, createShare, createSkill, type TestMember } from '../helpers/factories.js';
import { launchBrowser, openPage, screenshot, seriousViolations, signIn } from '../helpers/browser.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

// The share viewer (/s/{token}) as a reviewer opens it: no account, the artifact in a
// sandboxed frame that runs its own scripts yet reaches nothing, live while the link
// follows the artifact, and "revoked" or "expired" within a second of it happening.

let t: TestApp;
let browser: Browser;
let admin: string;
let member: TestMember;
/** Every request, WebSocket upgrade and connection the canary (another origin) saw. */
let canaryHits: string[];
let canary: Server;
let canaryUrl: string;
/** Every request the service itself saw, by URL. */
let served: string[];

beforeAll(async () => {
  [t, browser] = await Promise.all([createTestApp(), launchBrowser()]);
  admin = await adminToken(t);
  member = await createMember(t, admin, 'member');
  canaryHits = [];
  canary = createServer((request, response) => {
    canaryHits.push(`request ${request.url}`);
    response.writeHead(200, { 'content-type': 'text/plain', 'access-control-allow-origin': '*' }).end('reached');
  });
  canary.on('upgrade', (request, socket) => {
    canaryHits.push(`upgrade ${request.url}`);
    socket.destroy();
  });
  canary.on('connection', () => canaryHits.push('connection'));
  await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
  canaryUrl = `http://127.0.0.1:${(canary.address() as AddressInfo).port}`;
  served = [];
  t.server.on('request', (request: { url?: string }) => served.push(request.url ?? ''));
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => canary?.close(resolve));
  await t?.close();
});

/** A dashboard as an agent writes one: its own inline script draws the chart and switches the tabs. */
function dashboard(version: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Build health</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; margin: 0; padding: 1.5rem 2rem; color: #1b1f24; background: #fff; }
  h1 { font-size: 1.4rem; margin: 0 0 .25rem; } .sub { color: #57606a; margin: 0 0 1.25rem; }
  .cards { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 1rem; margin-bottom: 1.5rem; }
  .card { border: 1px solid #d0d7de; border-radius: 8px; padding: .75rem 1rem; }
  .card b { display: block; font-size: 1.6rem; } .card span { color: #57606a; }
  [role=tablist] button { font: inherit; border: 1px solid #d0d7de; background: #f6f8fa; padding: .3rem .8rem; border-radius: 6px; margin-right: .4rem; }
  [role=tablist] button[aria-selected=true] { background: #0a58ca; color: #fff; border-color: #0a58ca; }
  svg { margin-top: 1rem; }
</style></head><body>
<h1 id="headline">Build health — ${version}</h1>
<p class="sub" id="drawn">drawing…</p>
<div class="cards"><div class="card"><b>98.2%</b><span>passing builds</span></div><div class="card"><b>6m 40s</b><span>median duration</span></div><div class="card"><b>3</b><span>flaky tests</span></div></div>
<div role="tablist"><button role="tab" aria-selected="true" data-days="7">7 days</button><button role="tab" aria-selected="false" data-days="14">14 days</button></div>
<svg id="chart" width="640" height="180" role="img" aria-label="Builds per day"></svg>
<script>
  const chart = document.getElementById('chart');
  function draw(days) {
    chart.innerHTML = '';
    for (let i = 0; i < days; i++) {
      const h = 40 + ((i * 37) % 120);
      const bar = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
      bar.setAttribute('x', String(i * (620 / days) + 10)); bar.setAttribute('y', String(170 - h));
      bar.setAttribute('width', String(620 / days - 8)); bar.setAttribute('height', String(h)); bar.setAttribute('rx', '3');
      bar.setAttribute('fill', i % 5 === 3 ? '#cf222e' : '#1a7f37');
      chart.append(bar);
    }
    document.getElementById('drawn').textContent = 'Drawn by the page itself: ' + days + ' days';
  }
  for (const tab of document.querySelectorAll('[role=tab]')) tab.addEventListener('click', () => {
    for (const other of document.querySelectorAll('[role=tab]')) other.setAttribute('aria-selected', String(other === tab));
    draw(Number(tab.dataset.days));
  });
  draw(7);
</script></body></html>`;
}

/** A page that tries every way out of its frame, and writes down how each attempt went. */
function hostile(): string {
  const ws = canaryUrl.replace('http:', 'ws:');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Quarterly report</title>
<link rel="stylesheet" href="${canaryUrl}/css"></head><body>
<h1 id="status">script did not run</h1><ul id="probes"></ul>
<img src="${canaryUrl}/img" alt="">
<script src="${canaryUrl}/script.js"></script>
<form action="${canaryUrl}/form" method="post"><input name="a" value="b"></form>
<script>
  const note = (probe, outcome) => {
    const item = document.createElement('li');
    item.dataset.probe = probe;
    item.textContent = probe + ': ' + outcome;
    document.getElementById('probes').append(item);
  };
  const attempt = (probe, act) => { try { note(probe, String(act())); } catch (error) { note(probe, error.name); } };
  document.getElementById('status').textContent = 'script ran';
  attempt('origin', () => window.origin);
  attempt('cookie', () => document.cookie);
  attempt('parent-dom', () => window.parent.document.body.innerHTML.length);
  attempt('storage', () => localStorage.length);
  attempt('popup', () => window.open('${canaryUrl}/popup'));
  attempt('beacon', () => navigator.sendBeacon('${canaryUrl}/beacon', 'x'));
  fetch('/api/v1/me', { credentials: 'include' }).then((r) => note('api', 'status ' + r.status), (e) => note('api', e.name));
  fetch('${canaryUrl}/fetch', { mode: 'no-cors' }).then(() => note('fetch', 'reached'), (e) => note('fetch', e.name));
  const xhr = new XMLHttpRequest();
  xhr.onload = () => note('xhr', 'reached');
  xhr.onerror = () => note('xhr', 'error');
  attempt('xhr-send', () => { xhr.open('GET', '${canaryUrl}/xhr'); xhr.send(); return 'sent'; });
  try {
    const socket = new WebSocket('${ws}/ws');
    socket.onopen = () => note('websocket', 'open');
    socket.onerror = () => note('websocket', 'error');
  } catch (error) { note('websocket', error.name); }
  const image = new Image();
  image.onload = () => note('image', 'loaded');
  image.onerror = () => note('image', 'error');
  image.src = '${canaryUrl}/image';
  const script = document.createElement('script');
  script.onload = () => note('script', 'loaded');
  script.onerror = () => note('script', 'error');
  script.src = '${canaryUrl}/script2.js';
  document.head.append(script);
  attempt('top-navigation', () => { window.top.location.href = '${canaryUrl}/top'; return 'assigned'; });
  attempt('form', () => { document.forms[0].submit(); return 'submitted'; });
</script></body></html>`;
}

/** The frame showing the artifact (not one loading behind it). */
async function shownFrame(page: Page): Promise<Frame> {
  const element = await page.waitForSelector('iframe.share-frame:not(.behind)');
  const frame = await element.contentFrame();
  if (!frame) throw new Error('the viewer frame has no document');
  return frame;
}

/** Views of a share as the audit log counts them (GET /api/v1/audit/shares), and the share.view events themselves. */
async function views(artifactId: string, shareId: string): Promise<{ counted: number; events: number }> {
  const res = await t.http(admin).get(`/api/v1/audit/shares?artifactId=${artifactId}`);
  const counted = (res.body.items as { shareId: string; views: number }[]).find((i) => i.shareId === shareId)?.views ?? 0;
  const [{ events }] = await t.db.query(`SELECT count(*)::int AS events FROM audit_events WHERE action = 'share.view' AND resource_id = $1`, [shareId]);
  return { counted, events };
}

describe('the share viewer', () => {
  it('shows the artifact full width under a slim bar: what it is, who shared it, live, when it expires; one view per load, nothing off the origin', async () => {
    const artifact = await createArtifact(t, member.token, { title: 'Build health', kind: 'dashboard', content: { format: 'html', body: dashboard('week 23') } });
    const share = await createShare(t, member.token, artifact.id);
    const { page, context, offOrigin, pageErrors } = await openPage(browser, t);
    const response = await page.goto(`/s/${share.token}`);
    expect(response?.status()).toBe(200);
    const frame = await shownFrame(page);
    // The artifact's own script ran in the frame: it drew the chart and wrote this line.
    await frame.locator('#drawn').filter({ hasText: 'Drawn by the page itself: 7 days' }).waitFor();
    await frame.getByRole('tab', { name: '14 days' }).click();
    await frame.locator('#drawn').filter({ hasText: '14 days' }).waitFor();
    expect(await page.locator('iframe.share-frame').getAttribute('sandbox')).toBe('allow-scripts');
    const bar = page.locator('header.share-bar');
    expect(await bar.getByRole('heading', { level: 1 }).textContent()).toBe('Build health');
    expect(await bar.textContent()).toMatch(/^Build healthDashboardshared by A memberLive· revision 1expires in 2[34] hours$/);
    expect(await page.title()).toBe('Build health · Vitrine');
    // The frame fills the page below the bar.
    const viewport = page.viewportSize()!;
    const box = (await page.locator('iframe.share-frame').boundingBox())!;
    const barBox = (await bar.boundingBox())!;
    expect({ x: box.x, width: box.width, top: Math.round(box.y), bottom: Math.round(box.y + box.height) }).toEqual({ x: 0, width: viewport.width, top: Math.round(barBox.y + barBox.height), bottom: viewport.height });
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'share-viewer');
    expect(await views(artifact.id, share.id)).toEqual({ counted: 1, events: 1 });
    await page.reload();
    await (await shownFrame(page)).locator('#drawn').filter({ hasText: '7 days' }).waitFor();
    expect(await views(artifact.id, share.id)).toEqual({ counted: 2, events: 2 });
    expect(offOrigin).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();

    const dark = await browser.newContext({ baseURL: t.url, colorScheme: 'dark' });
    const night = await dark.newPage();
    await night.goto(`/s/${share.token}`);
    await (await shownFrame(night)).locator('#drawn').filter({ hasText: '7 days' }).waitFor();
    expect(await seriousViolations(night)).toEqual([]);
    await screenshot(night, 'share-viewer-dark');
    await dark.close();
  });

  it('follows a live link: a new revision replaces the one shown once it has loaded, and counts no view', async () => {
    const artifact = await createArtifact(t, member.token, { title: 'Build health', kind: 'dashboard', content: { format: 'html', body: dashboard('week 23') } });
    const share = await createShare(t, member.token, artifact.id);
    const { page, context, offOrigin, pageErrors } = await openPage(browser, t);
    await page.goto(`/s/${share.token}`);
    await (await shownFrame(page)).locator('#headline').filter({ hasText: 'week 23' }).waitFor();
    await page.locator('.share-viewer[data-watching]').waitFor();
    const revised = await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'html', body: dashboard('week 24') });
    expect(revised.status).toBe(200);
    await page.locator('iframe.share-frame:not(.behind)[data-revision="2"]').waitFor();
    expect(await (await shownFrame(page)).locator('#headline').textContent()).toBe('Build health — week 24');
    expect(await page.locator('iframe.share-frame').count()).toBe(1);
    expect(await page.locator('header.share-bar').textContent()).toContain('Live· revision 2');
    expect(await views(artifact.id, share.id)).toEqual({ counted: 1, events: 1 });
    expect(offOrigin).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it("follows a run-summary link as its run moves (it has no revisions: its run's changes are the notices)", async () => {
    const skill = (await createSkill(t, admin)).name;
    const run = await createRun(t, member.token, skill, { fetch: [], parse: ['fetch'] });
    const created = await t.http(member.token).post('/api/v1/artifacts').send({ title: 'Nightly summary', kind: 'run-summary', runId: run.id, classification: 'public' });
    expect(created.status).toBe(201);
    const share = await createShare(t, member.token, created.body.id);
    const { page, context, pageErrors } = await openPage(browser, t);
    await page.goto(`/s/${share.token}`);
    const row = async (key: string) => (await shownFrame(page)).locator('tr', { hasText: key }).first();
    await (await row('parse')).filter({ hasText: 'pending' }).waitFor();
    await page.locator('.share-viewer[data-watching]').waitFor();
    expect(await page.locator('header.share-bar').textContent()).toContain('follows its run');
    const report = await t.http(run.reporterToken).post(`/api/v1/runs/${run.id}/events`).send({ events: [{ node: 'fetch', type: 'started' }, { node: 'fetch', type: 'succeeded' }, { node: 'parse', type: 'started' }] });
    expect(report.status).toBe(200);
    await page.locator('iframe.share-frame:not(.behind)[data-revision="1"]').waitFor({ timeout: 2_000 });
    expect(await (await row('parse')).textContent()).toContain('running');
    expect(await (await row('fetch')).textContent()).toContain('succeeded');
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('shows a pinned link at its revision, not live', async () => {
    const artifact = await createArtifact(t, member.token, { content: { format: 'markdown', body: '# First draft' } });
    await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: '# Second draft' });
    const share = await createShare(t, member.token, artifact.id, { audience: 'link', expiresInSeconds: 7 * 86_400, revision: 1 });
    const { page, context } = await openPage(browser, t);
    await page.goto(`/s/${share.token}`);
    expect(await (await shownFrame(page)).locator('h1').textContent()).toBe('First draft');
    const about = await page.locator('.share-about').textContent();
    expect(about).toMatch(/^Revision 1expires in [67] days$/);
    expect(await page.locator('.share-live').count()).toBe(0);
    await context.close();
  });

  it("runs a hostile artifact's script, which yet reads no cookie or parent DOM, calls no API and reaches no other host", async () => {
    const artifact = await createArtifact(t, member.token, { title: 'Quarterly report', content: { format: 'html', body: hostile() } });
    const share = await createShare(t, member.token, artifact.id);
    const { page, context, offOrigin, pageErrors } = await openPage(browser, t);
    const failed: string[] = [];
    // Only what the viewer page asks for: the runs list's requests still in flight when it is left are aborted.
    const beforeViewer = new Set<Request>();
    let viewing = false;
    context.on('request', (request) => (viewing ? undefined : beforeViewer.add(request)));
    context.on('requestfailed', (request) => (beforeViewer.has(request) ? undefined : failed.push(`${request.url()} ${request.failure()?.errorText}`)));
    // Signed in, so there is a session cookie to steal and an API that would answer it.
    await page.goto('/');
    await signIn(page);
    // The runs list reads its first page again once it watches for new runs: that read is its own, not the viewer's.
    await page.locator('.runs-page[data-watching]').waitFor();
    canaryHits.length = 0;
    served.length = 0;
    viewing = true;
    await page.goto(`/s/${share.token}`);
    const frame = await shownFrame(page);
    await frame.locator('#status').filter({ hasText: 'script ran' }).waitFor();
    const probes = frame.locator('#probes li');
    const expected = ['origin', 'cookie', 'parent-dom', 'storage', 'popup', 'beacon', 'xhr-send', 'top-navigation', 'form', 'api', 'fetch', 'xhr', 'websocket', 'image', 'script'];
    await probes.nth(expected.length - 1).waitFor();
    // Time for anything that did get out to reach the canary.
    await page.waitForTimeout(500);
    const outcomes = Object.fromEntries((await probes.allTextContents()).map((text) => [text.slice(0, text.indexOf(': ')), text.slice(text.indexOf(': ') + 2)]));
    expect(Object.keys(outcomes).sort()).toEqual([...expected].sort());
    expect(outcomes).toMatchObject({ origin: 'null', cookie: 'SecurityError', 'parent-dom': 'SecurityError', storage: 'SecurityError', popup: 'null', api: 'TypeError', fetch: 'TypeError', xhr: 'error', image: 'error', script: 'error' });
    expect(['error', 'SecurityError']).toContain(outcomes.websocket);
    expect(canaryHits).toEqual([]);
    // The service saw the viewer page, its assets, its frame and its live socket: nothing under /api.
    expect(served.filter((url) => url.startsWith('/api/'))).toEqual([]);
    expect(served).toEqual(expect.arrayContaining([`/s/${share.token}`, expect.stringMatching(new RegExp(`^/s/${share.token}/content\\?`))]));
    expect(new URL(page.url()).pathname).toBe(`/s/${share.token}`);
    expect(await page.title()).toBe('Quarterly report · Vitrine');
    // The browser saw the artifact's attempts to leave the origin, and the CSP stopped each before it was sent.
    expect(offOrigin.length).toBeGreaterThan(0);
    expect(failed.sort()).toEqual(offOrigin.map((url) => `${url} csp`).sort());
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('says "This link was revoked" within a second of its revocation, and removes the content', async () => {
    const artifact = await createArtifact(t, member.token, { title: 'Build health', kind: 'dashboard', content: { format: 'html', body: dashboard('week 23') } });
    const share = await createShare(t, member.token, artifact.id);
    const { page, context, offOrigin, pageErrors } = await openPage(browser, t);
    await page.goto(`/s/${share.token}`);
    await (await shownFrame(page)).locator('#drawn').filter({ hasText: '7 days' }).waitFor();
    // Subscribed: what follows is the revocation pushed to an open page.
    await page.locator('.share-viewer[data-watching]').waitFor();
    expect((await t.http(member.token).delete(`/api/v1/shares/${share.id}`)).status).toBe(204);
    const alert = page.getByRole('alert');
    await alert.filter({ hasText: 'This link was revoked' }).waitFor({ timeout: 1_000 });
    expect(await page.locator('iframe').count()).toBe(0);
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'share-viewer-revoked');
    // Opened again, the server says so itself.
    const again = await page.reload();
    expect(again?.status()).toBe(410);
    await alert.filter({ hasText: 'This link was revoked' }).waitFor();
    expect(await page.locator('iframe').count()).toBe(0);
    expect(await views(artifact.id, share.id)).toEqual({ counted: 1, events: 1 });
    expect(offOrigin).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('says "This link has expired" within a second of its expiry', async () => {
    const artifact = await createArtifact(t, member.token, { title: 'Build health', kind: 'dashboard', content: { format: 'html', body: dashboard('week 23') } });
    // The API's shortest link lasts a minute; this one is brought nearer its end in the database, leaving
    // the page time to load first even on a busy machine.
    const share = await createShare(t, member.token, artifact.id, { audience: 'link', expiresInSeconds: 60 });
    await t.db.query(`UPDATE shares SET expires_at = now() + interval '10 seconds' WHERE id = $1`, [share.id]);
    const [{ expires }] = await t.db.query(`SELECT expires_at AS expires FROM shares WHERE id = $1`, [share.id]);
    const expiresAt = (expires as Date).getTime();
    const { page, context, offOrigin, pageErrors } = await openPage(browser, t);
    await page.goto(`/s/${share.token}`);
    await (await shownFrame(page)).locator('#drawn').filter({ hasText: '7 days' }).waitFor();
    expect(await page.locator('.share-expiry').textContent()).toMatch(/^expires in \d{1,2} seconds?$/);
    const alert = page.getByRole('alert').filter({ hasText: 'This link has expired' });
    expect(await alert.count()).toBe(0);
    await alert.waitFor({ timeout: Math.max(1, expiresAt + 1_000 - Date.now()) });
    expect(await page.locator('iframe').count()).toBe(0);
    const again = await page.reload();
    expect(again?.status()).toBe(410);
    await alert.waitFor();
    expect(offOrigin).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('says an unknown link was not found, with a 404', async () => {
    const { page, context, offOrigin, pageErrors } = await openPage(browser, t);
    const response = await page.goto('/s/vtr_shr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    expect(response?.status()).toBe(404);
    await page.getByRole('alert').filter({ hasText: 'This link was not found' }).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    expect(offOrigin).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it("opens an org share for a signed-in member of the org, frame and live updates included, and not for anyone else", async () => {
    const artifact = await createArtifact(t, member.token, { title: 'Org notes', content: { format: 'markdown', body: '# For the org' } });
    const share = await createShare(t, member.token, artifact.id, { audience: 'org' });
    const stranger = await openPage(browser, t);
    expect((await stranger.page.goto(`/s/${share.token}`))?.status()).toBe(404);
    await stranger.page.getByRole('alert').filter({ hasText: 'This link was not found' }).waitFor();
    await stranger.context.close();

    const { page, context, pageErrors } = await openPage(browser, t);
    await page.goto('/');
    await signIn(page);
    await page.goto(`/s/${share.token}`);
    expect(await (await shownFrame(page)).locator('h1').textContent()).toBe('For the org');
    await t.http(member.token).put(`/api/v1/artifacts/${artifact.id}/content`).send({ format: 'markdown', body: '# For the org, revised' });
    await page.locator('iframe.share-frame:not(.behind)[data-revision="2"]').waitFor();
    expect(await (await shownFrame(page)).locator('h1').textContent()).toBe('For the org, revised');
    expect(pageErrors).toEqual([]);
    await context.close();
  });
});
