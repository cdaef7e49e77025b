import { createContext, memo, useCallback, useContext, useEffect, useLayoutEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { Controls, Handle, MiniMap, Position, ReactFlow, useReactFlow, useStore, useStoreApi, type Edge, type Node, type NodeHandle, type NodeProps, type ReactFlowState } from '@xyflow/react';
import type { RunNode } from '../api';
import { StatusBadge, StatusIcon } from '../components/StatusBadge';
import { formatDuration } from '../lib/time';
import { useClock } from '../lib/use-now';
import { linkedKeys, NODE_HEIGHT, NODE_WIDTH, openingView, type OpeningView, type Positions } from './layout';
import { reasonText, type NodeState } from './run-state';
import '@xyflow/react/dist/style.css';

/** A status filter from the header's counts: `stalled` picks running nodes that went silent. */
export type NodeFilter = NodeState['status'] | 'stalled';

export const matchesFilter = (node: NodeState, filter: NodeFilter) => (filter === 'stalled' ? node.stalled : node.status === filter);

/**
 * The node states the cards read, each card subscribed to its own key: an event batch re-renders the
 * cards whose node changed and nothing else. Handing React Flow new node objects instead would run
 * every node's, edge's and handle's store selectors on each batch (about 10,000 calls a frame at
 * 2,000 nodes, which kept the page's thread busy at 500 events/s).
 */
class NodeStore {
  private listeners = new Map<string, Set<() => void>>();
  constructor(public nodes: ReadonlyMap<string, NodeState>) {}

  subscribe(key: string, listener: () => void): () => void {
    let set = this.listeners.get(key);
    if (!set) this.listeners.set(key, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  set(nodes: ReadonlyMap<string, NodeState>): void {
    const previous = this.nodes;
    if (previous === nodes) return;
    this.nodes = nodes;
    for (const [key, listeners] of this.listeners) if (previous.get(key) !== nodes.get(key)) for (const l of listeners) l();
  }
}

function useNode(store: NodeStore, key: string): NodeState {
  return useSyncExternalStore(
    useCallback((listener: () => void) => store.subscribe(key, listener), [store, key]),
    () => store.nodes.get(key)!,
  );
}

interface CardData extends Record<string, unknown> {
  store: NodeStore;
  staleAfterSeconds: number;
  filter: NodeFilter | null;
  selected: boolean;
  onOpen: (key: string) => void;
}
type CardNode = Node<CardData, 'run'>;

/**
 * The time the page shows the run at: undefined while live (the clock), else when the scrubbed seq's
 * event was stamped, so durations read as they did then instead of ticking on.
 */
export const AsOf = createContext<number | undefined>(undefined);

/** Now, or the scrubbed moment; ticking only while live and `active`. */
function useNow(active: boolean): number {
  const asOf = useContext(AsOf);
  const now = useClock(active && asOf === undefined);
  return asOf ?? now;
}

/** Live while it runs, fixed once it ended; nothing before it started. */
export function useDuration(node: Pick<RunNode, 'status' | 'startedAt' | 'endedAt'>): string | null {
  const now = useNow(node.status === 'running' && node.startedAt !== null);
  if (!node.startedAt) return null;
  const end = node.endedAt ? Date.parse(node.endedAt) : now;
  return formatDuration(end - Date.parse(node.startedAt));
}

export function SilentFor({ node, staleAfterSeconds }: { node: NodeState; staleAfterSeconds: number }) {
  const now = useNow(true);
  const text = node.lastEventAt ? `silent for ${formatDuration(now - Date.parse(node.lastEventAt))}` : `silent over ${formatDuration(staleAfterSeconds * 1000)}`;
  return (
    <span className="rn-stalled st-stalled" title="No event from this node for longer than the run allows">
      <StatusIcon status="stalled" />
      <span>stalled · {text}</span>
    </span>
  );
}

/**
 * A node's card (PAGE.md): title, key under it when they differ, status icon and word, percent and a
 * thin bar, the last message on one line, duration (live while running), and "silent for …" when stalled.
 * A button: Enter or a click opens its panel.
 */
/** Below this zoom a card's small print is a few pixels high: it is left out, which halves the page's elements for a big run fitted whole. */
const FAR_ZOOM = 0.45;
const isFar = (s: ReactFlowState) => s.transform[2] < FAR_ZOOM;

const RunNodeCard = memo(function RunNodeCard({ id, data }: NodeProps<CardNode>) {
  const { store, filter, selected, onOpen, staleAfterSeconds } = data;
  const node = useNode(store, id);
  const far = useStore(isFar);
  const highlighted = filter !== null && matchesFilter(node, filter);
  const line = node.status === 'skipped' || node.status === 'cancelled' ? (reasonText(node.reason) ?? node.message) : node.status === 'failed' ? (node.error?.message ?? node.message) : node.message;
  return (
    <>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <button
        type="button"
        className={`run-node rn-${node.status}${highlighted ? ' highlighted' : ''}${selected ? ' selected' : ''}${node.stalled ? ' is-stalled' : ''}${far ? ' far' : ''}`}
        data-node-key={node.key}
        data-status={node.status}
        data-percent={node.percent ?? undefined}
        aria-expanded={selected}
        aria-controls={selected ? 'node-panel' : undefined}
        onClick={() => onOpen(node.key)}
      >
        <span className="rn-title" title={node.title}>
          {node.title}
        </span>
        {far ? (
          <span className="rn-status">
            <StatusBadge status={node.status} />
          </span>
        ) : (
          <CardDetail node={node} line={line} staleAfterSeconds={staleAfterSeconds} />
        )}
      </button>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </>
  );
});

function CardDetail({ node, line, staleAfterSeconds }: { node: NodeState; line: string | null | undefined; staleAfterSeconds: number }) {
  return (
    <>
      {node.title !== node.key && <span className="rn-key">{node.key}</span>}
      <span className="rn-status">
        <StatusBadge status={node.status} />
        {node.percent !== null && node.status === 'running' && <span className="rn-percent">{Math.round(node.percent)}%</span>}
        <Duration node={node} />
      </span>
      <span className="rn-bar" aria-hidden="true">
        <span className={`rn-fill st-bg-${node.status}`} style={{ transform: `scaleX(${(node.percent ?? (node.status === 'succeeded' ? 100 : 0)) / 100})` }} />
      </span>
      {node.stalled ? <SilentFor node={node} staleAfterSeconds={staleAfterSeconds} /> : <span className="rn-message">{line ?? '\u00a0'}</span>}
    </>
  );
}

function Duration({ node }: { node: NodeState }) {
  const duration = useDuration(node);
  return duration ? <span className="rn-duration">{duration}</span> : null;
}

const nodeTypes = { run: RunNodeCard };
// React Flow gives a node that is neither selectable nor draggable no pointer events; its card is a button.
const NODE_STYLE = { pointerEvents: 'all' } as const;
// Size and handles known up front (the card's CSS fixes them): React Flow would otherwise draw every
// node once, culled or not, to measure it, which was most of a 2,000-node run's first view.
const MEASURED = { width: NODE_WIDTH, height: NODE_HEIGHT };
const HANDLES: NodeHandle[] = [
  { type: 'target', position: Position.Left, x: 0, y: NODE_HEIGHT / 2, width: 1, height: 1 },
  { type: 'source', position: Position.Right, x: NODE_WIDTH - 1, y: NODE_HEIGHT / 2, width: 1, height: 1 },
];
// Constant props: a new object on each render would be written to React Flow's store, which runs
// every node's and edge's selectors.
const PRO = { hideAttribution: true };
const NO_EDGES: Edge[] = [];

interface Props {
  runId: string;
  definitions: readonly RunNode[];
  nodes: ReadonlyMap<string, NodeState>;
  staleAfterSeconds: number;
  positions: Positions;
  layout: 'fast' | 'full';
  filter: NodeFilter | null;
  selected: string | null;
  onOpen: (key: string) => void;
}

interface Cached {
  position: { x: number; y: number };
  filter: NodeFilter | null;
  selected: boolean;
  node: CardNode;
}

/**
 * The DAG, left to right. Opens fitted, or for a run too big to read fitted at a readable zoom on
 * where it is active with a MiniMap (openingView; again when the refined layout lands, unless the
 * person moved the view), then keeps their zoom and pan: events never move the view. React Flow's
 * nodes change only with the layout, a filter or the selection; events reach the cards through NodeStore.
 */
export function RunGraph(props: Props) {
  const box = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState<{ width: number; height: number }>();
  // The view's size before React Flow mounts, so it opens where it should instead of moving after its first frame.
  useLayoutEffect(() => setSize({ width: box.current!.clientWidth, height: box.current!.clientHeight }), []);
  const [drawn, setDrawn] = useState(false);
  const onInit = useCallback(() => setDrawn(true), []);
  const moved = useRef(false);
  // The map and the zoom buttons move the view with no event React Flow hands on: the person's move all the same.
  const onControl = useCallback((event: { target: EventTarget }) => {
    if (event.target instanceof Element && event.target.closest('.react-flow__minimap, .react-flow__controls')) moved.current = true;
  }, []);
  return (
    <div
      ref={box}
      className="run-graph"
      data-testid="run-graph"
      data-layout={drawn ? props.layout : undefined}
      aria-label="Run graph"
      role="region"
      onPointerDownCapture={onControl}
      onClickCapture={onControl}
    >
      {size && <Graph {...props} size={size} onInit={onInit} moved={moved} />}
    </div>
  );
}

const activeKeys = (nodes: ReadonlyMap<string, NodeState>) => {
  const keys: string[] = [];
  for (const node of nodes.values()) if (node.status === 'running' || node.status === 'failed') keys.push(node.key);
  return keys;
};

function Graph({ runId, definitions, nodes, staleAfterSeconds, positions, layout, filter, selected, onOpen, size, onInit, moved }: Props & { size: { width: number; height: number }; onInit: () => void; moved: { current: boolean } }) {
  const cache = useRef(new Map<string, Cached>());
  const open = useRef(onOpen);
  open.current = onOpen;
  const stableOpen = useCallback((key: string) => open.current(key), []);
  // Computed once: afterwards the view is the person's.
  const linked = useMemo(() => linkedKeys(definitions), [definitions]);
  const [opening] = useState(() => openingView(positions, size.width, size.height, activeKeys(nodes), linked));
  // A move with an event is the person's (wheel, drag on the pane); setViewport's has none.
  const onMoveStart = useCallback((event: MouseEvent | TouchEvent | null) => {
    if (event) moved.current = true;
  }, []);

  const [store] = useState(() => new NodeStore(nodes));
  // Before the browser paints: the cards whose node changed re-render in this same commit.
  useLayoutEffect(() => store.set(nodes), [store, nodes]);

  const flowNodes = useMemo(
    () =>
      definitions.map((definition) => {
        const position = positions[definition.key] ?? { x: 0, y: 0 };
        const isSelected = selected === definition.key;
        const held = cache.current.get(definition.key);
        if (held && held.position === position && held.filter === filter && held.selected === isSelected) return held.node;
        const node: CardNode = {
          id: definition.key,
          type: 'run',
          position,
          width: NODE_WIDTH,
          height: NODE_HEIGHT,
          measured: MEASURED,
          handles: HANDLES,
          draggable: false,
          selectable: false,
          focusable: false,
          style: NODE_STYLE,
          data: { store, filter, selected: isSelected, onOpen: stableOpen, staleAfterSeconds },
        };
        cache.current.set(definition.key, { position, filter, selected: isSelected, node });
        return node;
      }),
    [definitions, positions, filter, selected, stableOpen, staleAfterSeconds, store],
  );

  // The boxes are painted first; the edges (about 4,000 at 2,000 nodes, which React Flow indexes
  // before it draws anything) follow once that frame is on screen.
  const [withEdges, setWithEdges] = useState(false);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const frame = requestAnimationFrame(() => (timer = setTimeout(() => setWithEdges(true))));
    return () => {
      cancelAnimationFrame(frame);
      clearTimeout(timer);
    };
  }, []);

  // Edges change only when a node fails (they are marked then), not on every event.
  let failedKey = '';
  for (const node of nodes.values()) if (node.status === 'failed') failedKey += `${node.key}\n`;
  const edges = useMemo<Edge[]>(() => {
    if (!withEdges) return NO_EDGES;
    const failed = new Set(failedKey.split('\n'));
    return definitions.flatMap((node) =>
      node.dependsOn.map((dep) => ({
        id: `${dep}->${node.key}`,
        source: dep,
        target: node.key,
        focusable: false,
        selectable: false,
        // No second, wide, invisible path per edge for pointer hits: edges take no clicks here.
        interactionWidth: 0,
        className: failed.has(dep) ? 'from-failed' : undefined,
      })),
    );
  }, [definitions, failedKey, withEdges]);

  // Rendered again only when what it is given changes: an event batch re-renders this component
  // (for the store above) but not React Flow.
  return useMemo(
    () => (
      <ReactFlow
        id={`run-${runId}`}
        nodes={flowNodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onlyRenderVisibleElements
        defaultViewport={opening}
        minZoom={0.01}
        maxZoom={2}
        nodesDraggable={false}
        nodesConnectable={false}
        nodesFocusable={false}
        edgesFocusable={false}
        elementsSelectable={false}
        colorMode="system"
        proOptions={PRO}
        onInit={onInit}
        onMoveStart={onMoveStart}
      >
        <Refit layout={layout} positions={positions} moved={moved} nodes={store} linked={linked} />
        <Controls showInteractive={false} position="bottom-right" />
        {!opening.fitted && <MiniMap position="top-right" pannable zoomable maskStrokeWidth={2} ariaLabel="Overview of the whole run" />}
      </ReactFlow>
    ),
    [runId, flowNodes, edges, opening, onInit, onMoveStart, layout, positions, moved, store, linked],
  );
}

/** Opens the view again as on open when the refined layout arrives (nodes move), unless the person has zoomed or panned. */
function Refit({ layout, positions, moved, nodes, linked }: { layout: 'fast' | 'full'; positions: Positions; moved: { current: boolean }; nodes: NodeStore; linked: readonly string[] }) {
  const flow = useReactFlow();
  const store = useStoreApi();
  const first = useRef(layout);
  useEffect(() => {
    if (layout === first.current || moved.current) return;
    const { width, height } = store.getState();
    const view: OpeningView = openingView(positions, width, height, activeKeys(nodes.nodes), linked);
    void flow.setViewport({ x: view.x, y: view.y, zoom: view.zoom });
  }, [layout, positions, flow, store, nodes, linked]);
  return null;
}
