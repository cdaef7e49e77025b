/**
 * The run-bound artifact of the demo: an HTML walkthrough of the pull request that the
 * agents rewrite as they finish, a new revision each time. Self-contained (inline style
 * only), as the render CSP requires; every text from the run is escaped.
 */

export type NodeStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export interface WalkthroughNode {
  key: string;
  title: string;
  status: NodeStatus;
  /** The server's reason for a skip or a cancel, e.g. `upstream_failed`. */
  reason: string | null;
  percent: number | null;
  message: string | null;
  /** The node's section once it has ended (a skipped node has none). */
  section: { heading: string; points: string[] } | undefined;
}

export interface WalkthroughState {
  title: string;
  runStatus: string;
  nodes: WalkthroughNode[];
}

const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

// Status as a symbol and a word, never colour alone.
const SYMBOL: Record<NodeStatus, string> = { pending: '○', running: '◔', succeeded: '✓', failed: '✗', skipped: '–', cancelled: '⊘' };

const STYLE = `:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--muted:#57606a;--line:#d0d7de;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9198a1;--line:#3d444d;--ok:#3fb950;--bad:#f85149;--warn:#d29922}}
body{font:16px/1.5 system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;color:var(--fg);background:var(--bg)}
.muted{color:var(--muted)}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
.succeeded{color:var(--ok)}.failed{color:var(--bad)}.skipped,.cancelled{color:var(--muted)}.running{color:var(--warn)}
progress{width:6rem}`;

function statusCell(node: WalkthroughNode): string {
  const reason = node.reason ? ` (${escape(node.reason.replaceAll('_', ' '))})` : '';
  const bar = node.status === 'running' && node.percent !== null ? ` <progress max="100" value="${node.percent}">${node.percent}%</progress> ${node.percent}%` : '';
  return `<span class="${node.status}">${SYMBOL[node.status]} ${node.status}</span>${reason}${bar}`;
}

export function renderWalkthrough(state: WalkthroughState, updatedAt: Date): string {
  const ended = state.nodes.filter((n) => !['pending', 'running'].includes(n.status)).length;
  const rows = state.nodes
    .map((n) => `<tr><td>${escape(n.title)}<br><span class="muted">${escape(n.key)}</span></td><td>${statusCell(n)}</td><td>${escape(n.message ?? '')}</td></tr>`)
    .join('\n');
  const sections = state.nodes
    .filter((n) => n.section)
    .map((n) => `<section><h2>${escape(n.section!.heading)}</h2>\n<ul>${n.section!.points.map((p) => `<li>${escape(p)}</li>`).join('')}</ul></section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escape(state.title)}</title><style>${STYLE}</style></head>
<body>
<h1>${escape(state.title)}</h1>
<p>Run <strong>${escape(state.runStatus)}</strong>: ${ended} of ${state.nodes.length} steps ended. <span class="muted">Kept current by the run's agents; updated ${updatedAt.toISOString().slice(11, 19)} UTC.</span></p>
<table><thead><tr><th>Step</th><th>Status</th><th>Last message</th></tr></thead><tbody>
${rows}
</tbody></table>
${sections}
</body></html>
`;
}
