import type { ElkNode } from 'elkjs/lib/elk-api';

/** Where each node's box goes (top-left corner, in graph units). */
export type Positions = Record<string, { x: number; y: number }>;

export interface LayoutNode {
  key: string;
  dependsOn: readonly string[];
}

export const NODE_WIDTH = 232;
export const NODE_HEIGHT = 104;
const LAYER_GAP = 72;
const ROW_GAP = 20;

/**
 * The first view, in linear time (plus a sort per layer): each node in the layer after its longest
 * chain of dependencies, ordered within its layer by two barycentric sweeps (down, then up) so edges
 * mostly run straight, layers centred on one another. 2,000 nodes take a few ms; ELK refines it later.
 */
export function fastLayout(nodes: readonly LayoutNode[]): Positions {
  const index = new Map(nodes.map((n, i) => [n.key, i]));
  const dependents: number[][] = nodes.map(() => []);
  const waiting = nodes.map((n) => n.dependsOn.length);
  nodes.forEach((n, i) => n.dependsOn.forEach((dep) => dependents[index.get(dep)!]!.push(i)));
  // Kahn's order: a node's layer is known once every dependency's is.
  const layer = new Array<number>(nodes.length).fill(0);
  const queue: number[] = [];
  waiting.forEach((count, i) => count === 0 && queue.push(i));
  for (let head = 0; head < queue.length; head++) {
    const i = queue[head]!;
    for (const d of dependents[i]!) {
      layer[d] = Math.max(layer[d]!, layer[i]! + 1);
      if (--waiting[d]! === 0) queue.push(d);
    }
  }
  const layers: number[][] = [];
  nodes.forEach((_, i) => (layers[layer[i]!] ??= []).push(i));
  for (let l = 0; l < layers.length; l++) layers[l] ??= [];
  const rank = new Float64Array(nodes.length);
  const setRanks = (members: number[]) => members.forEach((i, r) => (rank[i] = r - (members.length - 1) / 2));
  layers.forEach(setRanks);
  // Ranks are centred on 0 in every layer, so a barycentre compares across layers of different sizes.
  const sweep = (order: number[], neighbours: (i: number) => readonly number[]) => {
    const bary = new Map<number, number>();
    for (const i of order) {
      const around = neighbours(i);
      bary.set(i, around.length ? around.reduce((sum, j) => sum + rank[j]!, 0) / around.length : rank[i]!);
    }
    order.sort((a, b) => bary.get(a)! - bary.get(b)! || rank[a]! - rank[b]!);
    setRanks(order);
  };
  const deps = (i: number) => nodes[i]!.dependsOn.map((k) => index.get(k)!);
  for (let l = 1; l < layers.length; l++) sweep(layers[l]!, deps);
  for (let l = layers.length - 2; l >= 0; l--) sweep(layers[l]!, (i) => dependents[i]!);
  const positions: Positions = {};
  layers.forEach((members, l) =>
    members.forEach((i) => {
      positions[nodes[i]!.key] = { x: l * (NODE_WIDTH + LAYER_GAP), y: rank[i]! * (NODE_HEIGHT + ROW_GAP) };
    }),
  );
  return positions;
}

/**
 * ELK's input for the same graph: layered, left to right, for its crossing minimisation. Edges are
 * drawn by React Flow, so ELK is not asked to route them or keep room for them, and nodes are placed
 * simply: orthogonal routing with Brandes-Köpf placement made a 2,000-node run 41,000 × 134,000 px
 * (a sliver at any zoom) in 17-22 s; this makes it 10,000 × 12,400 px in 6 s.
 */
export function elkGraph(nodes: readonly LayoutNode[]): ElkNode {
  return {
    id: 'run',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.layered.spacing.nodeNodeBetweenLayers': String(LAYER_GAP),
      'elk.spacing.nodeNode': String(ROW_GAP),
      'elk.edgeRouting': 'POLYLINE',
      'elk.layered.nodePlacement.strategy': 'SIMPLE',
      'elk.layered.spacing.edgeEdgeBetweenLayers': '0',
      'elk.layered.spacing.edgeNodeBetweenLayers': '0',
      'elk.spacing.edgeEdge': '0',
      'elk.spacing.edgeNode': '0',
    },
    children: nodes.map((n) => ({ id: n.key, width: NODE_WIDTH, height: NODE_HEIGHT })),
    edges: nodes.flatMap((n) => n.dependsOn.map((dep) => ({ id: `${dep}->${n.key}`, sources: [dep], targets: [n.key] }))),
  };
}

/** What the layout worker is asked, and answers. */
export interface LayoutRequest {
  runId: string;
  nodes: LayoutNode[];
}
export type LayoutAnswer = { runId: string; positions: Positions } | { runId: string; error: string };

const memory = new Map<string, Positions>();
const storageKey = (runId: string) => `vitrine:layout:${runId}`;

/** A run's refined layout, kept once made: a run's DAG never changes. In memory, and for the tab's session. */
export function storedLayout(runId: string, nodes: readonly LayoutNode[]): Positions | undefined {
  let positions = memory.get(runId);
  if (!positions) {
    try {
      const text = sessionStorage.getItem(storageKey(runId));
      if (text) positions = JSON.parse(text) as Positions;
    } catch {
      positions = undefined;
    }
  }
  // A stored layout missing a node (an older format, a tampered entry) is not used.
  if (!positions || nodes.some((n) => !positions[n.key])) return undefined;
  memory.set(runId, positions);
  return positions;
}

export function storeLayout(runId: string, positions: Positions): void {
  memory.set(runId, positions);
  try {
    sessionStorage.setItem(storageKey(runId), JSON.stringify(positions));
  } catch {
    // Storage full or refused: memory keeps it for this page.
  }
}

/**
 * ELK's layout of the run, made in a Web Worker (2,000 nodes take it seconds: never on the page's
 * thread). Resolves with the positions, or rejects; `signal` ends the worker.
 */
export function refineLayout(request: LayoutRequest, signal: AbortSignal): Promise<Positions> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./layout.worker.ts', import.meta.url), { type: 'module', name: 'run-layout' });
    const end = () => worker.terminate();
    signal.addEventListener('abort', end, { once: true });
    worker.onmessage = (message: MessageEvent<LayoutAnswer>) => {
      end();
      if ('positions' in message.data) resolve(message.data.positions);
      else reject(new Error(message.data.error));
    };
    worker.onerror = (event) => {
      end();
      reject(new Error(event.message || 'the layout worker failed'));
    };
    worker.postMessage(request);
  });
}

/** The keys of nodes with an edge in or out. */
export function linkedKeys(nodes: readonly LayoutNode[]): string[] {
  const linked = new Set<string>();
  for (const n of nodes) if (n.dependsOn.length) [n.key, ...n.dependsOn].forEach((key) => linked.add(key));
  return [...linked];
}

/** Where the graph opens: React Flow's viewport (translate in px, then zoom). `fitted` when it shows the whole run. */
export interface OpeningView {
  x: number;
  y: number;
  zoom: number;
  fitted: boolean;
}

/** Below this zoom a card's text is under 7 px: the run is not fitted but opened at OPEN_ZOOM instead. */
export const MIN_FIT_ZOOM = 0.5;
export const OPEN_ZOOM = 0.75;
const FIT_PADDING = 0.1;
const MARGIN = 24;

/**
 * The whole run when it fits a `width`×`height` view at a readable zoom (at most 1), centred. Otherwise
 * OPEN_ZOOM on where the run is active: its first `active` node in layer order (leftmost, then
 * topmost) at the top left, or, with none active, the first node of `linked` (those with an edge:
 * ELK packs unconnected nodes in a row above the graph), or of all.
 */
export function openingView(positions: Positions, width: number, height: number, active: Iterable<string> = [], linked: Iterable<string> = []): OpeningView {
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (const key in positions) {
    const { x, y } = positions[key]!;
    x1 = Math.min(x1, x);
    y1 = Math.min(y1, y);
    x2 = Math.max(x2, x + NODE_WIDTH);
    y2 = Math.max(y2, y + NODE_HEIGHT);
  }
  if (x1 === Infinity || width <= 0 || height <= 0) return { x: 0, y: 0, zoom: 1, fitted: true };
  // As React Flow's fitView counts its padding.
  const fit = Math.min(1, width / ((x2 - x1) * (1 + FIT_PADDING)), height / ((y2 - y1) * (1 + FIT_PADDING)));
  if (fit >= MIN_FIT_ZOOM) return { x: width / 2 - ((x1 + x2) / 2) * fit, y: height / 2 - ((y1 + y2) / 2) * fit, zoom: fit, fitted: true };
  const first = (keys: Iterable<string>) => {
    let best: { x: number; y: number } | undefined;
    for (const key of keys) {
      const at = positions[key];
      if (at && (!best || at.x < best.x || (at.x === best.x && at.y < best.y))) best = at;
    }
    return best;
  };
  const anchor = first(active) ?? first(linked) ?? first(Object.keys(positions))!;
  return { x: MARGIN - anchor.x * OPEN_ZOOM, y: MARGIN - anchor.y * OPEN_ZOOM, zoom: OPEN_ZOOM, fitted: false };
}
