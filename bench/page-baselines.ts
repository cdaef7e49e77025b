/**
 * bench:page's baselines: pages the bench serves itself, from its own small
 * HTTP server, beside the run page in the same Chromium:
 * - a static page: the run's nodes as absolutely positioned divs in the HTML,
 *   no script, at the positions layeredPositions() gives;
 * - a bare React Flow page: stock <ReactFlow> (fitView, default nodes and
 *   edges, uncontrolled) with the same nodes and edges at the same positions,
 *   bundled by Vite from node_modules' React and @xyflow/react, as the page is.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { BenchGraph } from './page-graph.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Node box size and gaps on the baselines' grid, close to a run page's card. */
const BOX = { width: 160, height: 44, columnGap: 80, rowGap: 16 };

/** Each node's top-left corner: its layer is its column, its place in the layer its row. */
export function layeredPositions(graph: BenchGraph): Map<string, { x: number; y: number }> {
  const rows = new Map<number, number>();
  const positions = new Map<string, { x: number; y: number }>();
  for (const node of graph.nodes) {
    const row = rows.get(node.layer) ?? 0;
    rows.set(node.layer, row + 1);
    positions.set(node.key, { x: node.layer * (BOX.width + BOX.columnGap), y: row * (BOX.height + BOX.rowGap) });
  }
  return positions;
}

/** The static page: every node a positioned div with its key and status word, no script; scaled to fit the viewport's width. */
function staticPage(graph: BenchGraph): string {
  const positions = layeredPositions(graph);
  const layers = Math.max(...graph.nodes.map((n) => n.layer)) + 1;
  const width = layers * (BOX.width + BOX.columnGap);
  const boxes = graph.nodes
    .map((n) => {
      const p = positions.get(n.key)!;
      return `<div class="box" data-id="${n.key}" style="left:${p.x}px;top:${p.y}px"><b>${n.key}</b><span>pending</span></div>`;
    })
    .join('\n');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>static ${graph.nodes.length} nodes</title><style>
body{margin:0;font:12px system-ui,sans-serif}
#graph{position:relative;transform-origin:0 0;transform:scale(calc(100vw / ${width}px))}
.box{position:absolute;width:${BOX.width}px;height:${BOX.height}px;box-sizing:border-box;border:1px solid #888;border-radius:4px;padding:4px;background:#fff}
.box span{display:block;color:#555}
</style></head><body><div id="graph" style="width:${width}px">
${boxes}
</div></body></html>`;
}

/** The bare React Flow page's entry: plain JS (no JSX), reads its graph from graph-<n>.json. */
const REACT_FLOW_ENTRY = `import { createElement as h } from 'react';
import { createRoot } from 'react-dom/client';
import { ReactFlow } from '@xyflow/react';
import '@xyflow/react/dist/style.css';

const n = new URLSearchParams(location.search).get('n');
fetch('./graph-' + n + '.json')
  .then((r) => r.json())
  .then(({ nodes, edges }) => {
    createRoot(document.getElementById('root')).render(
      h('div', { style: { width: '100vw', height: '100vh' } }, h(ReactFlow, { defaultNodes: nodes, defaultEdges: edges, fitView: true })),
    );
  });
`;

/** Builds the bare React Flow page with Vite into dist/bench/page-baseline/out (under the repository, so node_modules resolve); answers its folder. */
export async function buildReactFlowPage(): Promise<string> {
  const dir = path.join(root, 'dist/bench/page-baseline');
  const src = path.join(dir, 'src');
  const out = path.join(dir, 'out');
  mkdirSync(src, { recursive: true });
  writeFileSync(path.join(src, 'main.js'), REACT_FLOW_ENTRY);
  writeFileSync(
    path.join(src, 'index.html'),
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>React Flow baseline</title><style>body{margin:0}</style></head><body><div id="root"></div><script type="module" src="./main.js"></script></body></html>`,
  );
  // 'error': React Flow's "use client" directives make Rolldown warn on every build.
  await build({ root: src, configFile: false, logLevel: 'error', base: './', build: { outDir: out, emptyOutDir: true, sourcemap: false } });
  return out;
}

/** React Flow's nodes and edges for the graph, at layeredPositions(). */
function reactFlowGraph(graph: BenchGraph): string {
  const positions = layeredPositions(graph);
  return JSON.stringify({
    nodes: graph.nodes.map((n) => ({ id: n.key, position: positions.get(n.key)!, data: { label: `${n.key} pending` } })),
    edges: graph.nodes.flatMap((n) => n.dependsOn.map((d) => ({ id: `${d}>${n.key}`, source: d, target: n.key }))),
  });
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };

/**
 * The baselines' server on a free local port: `/static-<n>.html` for each
 * graph, and the React Flow build at `/flow/index.html?n=<n>` with its
 * `/flow/graph-<n>.json`.
 */
export async function serveBaselines(flowDir: string, graphs: BenchGraph[]): Promise<{ url: string; server: Server }> {
  const files = new Map<string, { type: string; body: string | Buffer }>();
  for (const g of graphs) {
    files.set(`/static-${g.nodes.length}.html`, { type: TYPES['.html']!, body: staticPage(g) });
    files.set(`/flow/graph-${g.nodes.length}.json`, { type: TYPES['.json']!, body: reactFlowGraph(g) });
  }
  const server = createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    let file = files.get(pathname);
    if (!file && pathname.startsWith('/flow/') && !pathname.includes('..')) {
      try {
        const name = pathname.slice('/flow/'.length);
        file = { type: TYPES[path.extname(name)] ?? 'application/octet-stream', body: readFileSync(path.join(flowDir, name)) };
      } catch {
        file = undefined;
      }
    }
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}
