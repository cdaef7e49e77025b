import { memo, useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Controls, Handle, Position, ReactFlow, useReactFlow, type Edge, type Node, type NodeProps } from '@xyflow/react';
import type { RunNode } from '../api';
import { StatusBadge, StatusIcon } from '../components/StatusBadge';
import { formatDuration } from '../lib/time';
import { useClock } from './clock';
import { NODE_HEIGHT, NODE_WIDTH, type Positions } from './layout';
import type { NodeState } from './run-state';
import '@xyflow/react/dist/style.css';

/** A status filter from the header's counts: `stalled` picks running nodes that went silent. */
export type NodeFilter = NodeState['status'] | 'stalled';

export const matchesFilter = (node: NodeState, filter: NodeFilter) => (filter === 'stalled' ? node.stalled : node.status === filter);

interface CardData extends Record<string, unknown> {
  node: NodeState;
  staleAfterSeconds: number;
  highlighted: boolean;
  selected: boolean;
  onOpen: (key: string) => void;
}
type CardNode = Node<CardData, 'run'>;

/** How a skip's or cancel's reason reads: `upstream_failed` → "upstream failed". */
export const reasonText = (reason: string | null) => (reason ? reason.replace(/_/g, ' ') : null);

/** Live while it runs, fixed once it ended; nothing before it started. */
export function useDuration(node: Pick<RunNode, 'status' | 'startedAt' | 'endedAt'>): string | null {
  const now = useClock(node.status === 'running' && node.startedAt !== null);
  if (!node.startedAt) return null;
  const end = node.endedAt ? Date.parse(node.endedAt) : now;
  return formatDuration(end - Date.parse(node.startedAt));
}

export function SilentFor({ node, staleAfterSeconds }: { node: NodeState; staleAfterSeconds: number }) {
  const now = useClock(true);
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
const RunNodeCard = memo(function RunNodeCard({ data }: NodeProps<CardNode>) {
  const { node, highlighted, selected, onOpen, staleAfterSeconds } = data;
  const duration = useDuration(node);
  const line = node.status === 'skipped' || node.status === 'cancelled' ? (reasonText(node.reason) ?? node.message) : node.status === 'failed' ? (node.error?.message ?? node.message) : node.message;
  return (
    <>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <button
        type="button"
        className={`run-node rn-${node.status}${highlighted ? ' highlighted' : ''}${selected ? ' selected' : ''}${node.stalled ? ' is-stalled' : ''}`}
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
        {node.title !== node.key && <span className="rn-key">{node.key}</span>}
        <span className="rn-status">
          <StatusBadge status={node.status} />
          {node.percent !== null && node.status === 'running' && <span className="rn-percent">{Math.round(node.percent)}%</span>}
          {duration && <span className="rn-duration">{duration}</span>}
        </span>
        <span className="rn-bar" aria-hidden="true">
          <span className={`rn-fill st-bg-${node.status}`} style={{ width: `${node.percent ?? (node.status === 'succeeded' ? 100 : 0)}%` }} />
        </span>
        {node.stalled ? <SilentFor node={node} staleAfterSeconds={staleAfterSeconds} /> : <span className="rn-message">{line ?? '\u00a0'}</span>}
      </button>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </>
  );
});

const nodeTypes = { run: RunNodeCard };
// React Flow gives a node that is neither selectable nor draggable no pointer events; its card is a button.
const NODE_STYLE = { pointerEvents: 'all' } as const;

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
  state: NodeState;
  position: { x: number; y: number };
  highlighted: boolean;
  selected: boolean;
  node: CardNode;
}

/**
 * The DAG, left to right. Fits the run on open (and once more when the refined layout lands, unless
 * the person moved the view), then keeps their zoom and pan: events never move the view. Only the
 * nodes whose state changed get new objects, so React redraws only those cards.
 */
export function RunGraph({ runId, definitions, nodes, staleAfterSeconds, positions, layout, filter, selected, onOpen }: Props) {
  const cache = useRef(new Map<string, Cached>());
  const open = useRef(onOpen);
  open.current = onOpen;
  const stableOpen = useCallback((key: string) => open.current(key), []);
  const [drawn, setDrawn] = useState(false);
  const moved = useRef(false);

  const flowNodes = useMemo(
    () =>
      definitions.map((definition) => {
        const state = nodes.get(definition.key)!;
        const position = positions[definition.key] ?? { x: 0, y: 0 };
        const highlighted = filter !== null && matchesFilter(state, filter);
        const isSelected = selected === definition.key;
        const held = cache.current.get(definition.key);
        if (held && held.state === state && held.position === position && held.highlighted === highlighted && held.selected === isSelected) return held.node;
        const node: CardNode = {
          id: definition.key,
          type: 'run',
          position,
          width: NODE_WIDTH,
          height: NODE_HEIGHT,
          draggable: false,
          selectable: false,
          focusable: false,
          style: NODE_STYLE,
          data: { node: state, highlighted, selected: isSelected, onOpen: stableOpen, staleAfterSeconds },
        };
        cache.current.set(definition.key, { state, position, highlighted, selected: isSelected, node });
        return node;
      }),
    [definitions, nodes, positions, filter, selected, stableOpen, staleAfterSeconds],
  );

  // Edges change only when a node fails (they are marked then), not on every event.
  let failedKey = '';
  for (const node of nodes.values()) if (node.status === 'failed') failedKey += `${node.key}\n`;
  const edges = useMemo<Edge[]>(() => {
    const failed = new Set(failedKey.split('\n'));
    return definitions.flatMap((node) =>
      node.dependsOn.map((dep) => ({
        id: `${dep}->${node.key}`,
        source: dep,
        target: node.key,
        focusable: false,
        selectable: false,
        className: failed.has(dep) ? 'from-failed' : undefined,
      })),
    );
  }, [definitions, failedKey]);

  return (
    <div className="run-graph" data-testid="run-graph" data-layout={drawn ? layout : undefined} aria-label="Run graph" role="region">
      <ReactFlow
        id={`run-${runId}`}
        nodes={flowNodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onlyRenderVisibleElements
        fitView
        fitViewOptions={{ maxZoom: 1, padding: 0.1 }}
        minZoom={0.05}
        maxZoom={2}
        nodesDraggable={false}
        nodesConnectable={false}
        nodesFocusable={false}
        edgesFocusable={false}
        elementsSelectable={false}
        colorMode="system"
        proOptions={{ hideAttribution: true }}
        onInit={() => setDrawn(true)}
        // A move with an event is the person's (wheel, drag, the zoom buttons); fitView's has none.
        onMoveStart={(event) => {
          if (event) moved.current = true;
        }}
      >
        <Refit layout={layout} moved={moved} />
        <Controls showInteractive={false} position="bottom-right" />
      </ReactFlow>
    </div>
  );
}

/** Fits the view again when the refined layout arrives, unless the person has zoomed or panned. */
function Refit({ layout, moved }: { layout: 'fast' | 'full'; moved: { current: boolean } }) {
  const flow = useReactFlow();
  const first = useRef(layout);
  useEffect(() => {
    if (layout === first.current || moved.current) return;
    // After React Flow has the new positions.
    const frame = requestAnimationFrame(() => void flow.fitView({ maxZoom: 1, padding: 0.1 }));
    return () => cancelAnimationFrame(frame);
  }, [layout, flow]);
  return null;
}
