import MarkdownIt from 'markdown-it';
import type { NodeView } from '../runs/runs.schemas.js';
import type { ContentFormat } from './artifact-revision.entity.js';

/**
 * How a rendered artifact is served (API.md, Artifacts). Agent HTML may run its
 * own inline scripts (`sandbox allow-scripts`, `script-src 'unsafe-inline'`),
 * but as an opaque origin, so it reaches neither Vitrine's cookies, DOM nor API,
 * and nothing outside the page is ever loaded (`default-src 'none'`: no fetch,
 * WebSocket, remote script, image or font; images and fonts only as data: URLs).
 */
export const RENDER_HEADERS: Record<string, string> = {
  'Content-Type': 'text/html; charset=utf-8',
  'Content-Security-Policy':
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; font-src data:; base-uri 'none'; form-action 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'private, no-store',
};

// Raw HTML inside Markdown is shown as text, not interpreted.
const markdown = new MarkdownIt({ html: false, linkify: true });

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}
pre,code{font:14px ui-monospace,monospace;background:#f3f4f6}pre{padding:1rem;overflow:auto}
table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left}`;

function page(title: string, body: string): string {
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escape(title)}</title><style>${STYLE}</style></head><body>\n${body}\n</body></html>\n`;
}

/** A stored revision as a self-contained page: HTML as the agent wrote it (under RENDER_HEADERS), Markdown rendered. */
export function renderContent(title: string, format: ContentFormat, body: string): string {
  return format === 'html' ? body : page(title, markdown.render(body));
}

/** A run-summary: the run's state now, node by node. */
export function renderRunSummary(title: string, run: { title: string; status: string; nodes: NodeView[] }): string {
  const rows = run.nodes
    .map((n) => `<tr><td>${escape(n.key)}</td><td>${escape(n.title)}</td><td>${escape(n.status)}${n.stalled ? ' (stalled)' : ''}</td><td>${n.percent ?? ''}</td><td>${escape(n.message ?? '')}</td></tr>`)
    .join('\n');
  return page(
    title,
    `<h1>${escape(title)}</h1>\n<p>Run <strong>${escape(run.title)}</strong>: ${escape(run.status)}</p>\n<table><thead><tr><th>Node</th><th>Title</th><th>Status</th><th>%</th><th>Message</th></tr></thead><tbody>\n${rows}\n</tbody></table>`,
  );
}
