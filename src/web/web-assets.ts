import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler } from 'express';

/** dist/web under the project root, wherever this module runs from (dist/src/web when built, src/web under the tests). */
function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('vitrine: package.json not found above the web module');
    dir = parent;
  }
  return dir;
}

export const WEB_DIR = path.join(projectRoot(), 'dist', 'web');

/**
 * The page's own headers: everything from this origin (nothing from another host, API.md "The
 * page"), no inline script or style, and frames only from the render paths.
 */
export function pageHeaders(origin: string): Record<string, string> {
  const csp = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "worker-src 'self'",
    `frame-src ${origin}/api/v1/artifacts/ ${origin}/s/`,
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
  return {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Security-Policy': csp,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    // The shell names the current hashed assets, so it is always revalidated.
    'Cache-Control': 'no-cache',
  };
}

let shell: string | undefined;

/** index.html as built; undefined when the page was not built (`npm run build` builds it). */
export function pageShell(): string | undefined {
  if (shell !== undefined) return shell;
  const file = path.join(WEB_DIR, 'index.html');
  if (!existsSync(file)) return undefined;
  return (shell = readFileSync(file, 'utf8'));
}

const attribute = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * The shell with data for the page in a `<meta name content>` tag, as JSON: what the
 * server decided for this load reaches the app without an inline script (the CSP
 * allows none) or another request.
 */
export function shellWithMeta(html: string, name: string, data: unknown): string {
  const tag = `<meta name="${attribute(name)}" content="${attribute(JSON.stringify(data))}">`;
  const head = html.indexOf('</head>');
  if (head < 0) throw new Error('vitrine: the page shell has no </head>');
  return html.slice(0, head) + tag + html.slice(head);
}

/** Hashed assets: a name changes whenever its content does, so they are cached for a year as immutable. */
export function assetsHandler(): RequestHandler {
  return express.static(path.join(WEB_DIR, 'assets'), { immutable: true, maxAge: '365d', index: false, fallthrough: true, redirect: false });
}
