/**
 * bench:page's run: a layered DAG shaped like an agent pipeline, and a
 * reporter that drives it forward one valid event at a time.
 */
import { newId } from '../src/common/ids.js';
import type { IncomingEvent } from '../src/runs/runs.schemas.js';
import { mulberry32 } from './harness.js';

export interface BenchNode {
  key: string;
  layer: number;
  dependsOn: string[];
}

export interface BenchGraph {
  nodes: BenchNode[];
  edges: number;
  /** Edges that skip two layers or more. */
  longEdges: number;
  layers: number;
}


/**
 * `count` nodes in about √count / 2.2 layers of uneven width (at least 5).
 * Every node past the first layer depends on 1–3 nodes of the layer before
 * (fan-in), drawn with a bias towards a few "hub" nodes so some fan out
 * widely; one in eight also depends on a node 2–5 layers back (a long edge).
 */
export function benchGraph(count: number, seed = 31): BenchGraph {
  const rand = mulberry32(seed + count);
  const layers = Math.max(5, Math.round(Math.sqrt(count) / 2.2));
  // Uneven widths (0.5–1.5 of the mean), scaled to add up to `count`.
  const weights = Array.from({ length: layers }, () => 0.5 + rand());
  const total = weights.reduce((a, b) => a + b, 0);
  const widths = weights.map((w) => Math.max(1, Math.floor((w / total) * count)));
  for (let i = 0; widths.reduce((a, b) => a + b, 0) < count; i = (i + 1) % layers) widths[i]!++;
  const byLayer: BenchNode[][] = [];
  const nodes: BenchNode[] = [];
  let edges = 0;
  let longEdges = 0;
  for (let layer = 0; layer < layers; layer++) {
    const row: BenchNode[] = [];
    for (let i = 0; i < widths[layer]!; i++) {
      const node: BenchNode = { key: `s${String(layer).padStart(2, '0')}-${String(i).padStart(4, '0')}`, layer, dependsOn: [] };
      if (layer > 0) {
        const previous = byLayer[layer - 1]!;
        const deps = new Set<string>();
        const fanIn = 1 + Math.floor(rand() * 3);
        // rand()³ leans towards the layer's first nodes: they become the hubs.
        for (let k = 0; k < fanIn; k++) deps.add(previous[Math.floor(rand() ** 3 * previous.length)]!.key);
        if (layer >= 2 && rand() < 1 / 8) {
          const back = byLayer[Math.max(0, layer - 2 - Math.floor(rand() * 4))]!;
          deps.add(back[Math.floor(rand() * back.length)]!.key);
          longEdges++;
        }
        node.dependsOn = [...deps];
        edges += deps.size;
      }
      row.push(node);
      nodes.push(node);
    }
    byLayer.push(row);
  }
  return { nodes, edges, longEdges, layers };
}

/** What an event, once shown, leaves on its node's box: its status and (for progress) its percent at least. */
export interface Expect {
  node: string;
  type: IncomingEvent['type'];
  status: 'running' | 'succeeded';
  percent?: number;
}

/**
 * Drives a run of `graph` forward as its reporters would: nodes start once
 * every dependency has succeeded, report progress and logs, and succeed.
 * Each node has at most one event in flight, and an event counts only once
 * its POST was answered, so no event can break the run's rules however the
 * requests interleave. `steps` progress/log events a node before it succeeds;
 * `running` nodes at most at once.
 */
export class RunDriver {
  private readonly state = new Map<string, { status: 'pending' | 'running' | 'succeeded'; step: number; waiting: number; busy: boolean }>();
  private readonly children = new Map<string, string[]>();
  private ready: string[] = [];
  private running: string[] = [];
  private readonly rand = mulberry32(7);
  /** Ticks that found no node free to take an event (every candidate had one in flight). */
  idleTicks = 0;

  constructor(
    graph: BenchGraph,
    private readonly steps: number,
    private readonly maxRunning: number,
  ) {
    for (const n of graph.nodes) {
      this.state.set(n.key, { status: 'pending', step: 0, waiting: n.dependsOn.length, busy: false });
      for (const d of n.dependsOn) this.children.set(d, [...(this.children.get(d) ?? []), n.key]);
      if (!n.dependsOn.length) this.ready.push(n.key);
    }
  }

  /** The next event to send and what it should show, or undefined when every node that could take one has one in flight. */
  next(): { event: IncomingEvent; expect?: Expect; done: (ok: boolean) => void } | undefined {
    const free = this.running.filter((k) => !this.state.get(k)!.busy);
    if (this.running.length < this.maxRunning && this.ready.length && (free.length < this.maxRunning / 4 || this.rand() < 0.2)) {
      const key = this.ready.splice(Math.floor(this.rand() * this.ready.length), 1)[0]!;
      const s = this.state.get(key)!;
      s.busy = true;
      return {
        event: { id: newId(), node: key, type: 'started' },
        expect: { node: key, type: 'started', status: 'running' },
        done: (ok) => {
          s.busy = false;
          if (!ok) return this.ready.push(key);
          s.status = 'running';
          this.running.push(key);
        },
      };
    }
    if (!free.length) {
      this.idleTicks++;
      return undefined;
    }
    const key = free[Math.floor(this.rand() * free.length)]!;
    const s = this.state.get(key)!;
    s.busy = true;
    if (s.step >= this.steps) {
      return {
        event: { id: newId(), node: key, type: 'succeeded', output: { rows: s.step } },
        expect: { node: key, type: 'succeeded', status: 'succeeded' },
        done: (ok) => {
          s.busy = false;
          if (!ok) return;
          s.status = 'succeeded';
          this.running.splice(this.running.indexOf(key), 1);
          for (const child of this.children.get(key) ?? []) {
            const c = this.state.get(child)!;
            if (--c.waiting === 0) this.ready.push(child);
          }
        },
      };
    }
    const step = ++s.step;
    const done = (ok: boolean) => {
      s.busy = false;
      if (!ok) s.step--;
    };
    if (this.rand() < 0.3) {
      return { event: { id: newId(), node: key, type: 'log', level: this.rand() < 0.1 ? 'warn' : 'info', message: `${key}: step ${step} of ${this.steps}` }, done };
    }
    const percent = Math.min(99, Math.round((step / this.steps) * 100));
    return {
      event: { id: newId(), node: key, type: 'progress', percent, message: `${key}: ${percent}%` },
      expect: { node: key, type: 'progress', status: 'running', percent },
      done,
    };
  }
}
