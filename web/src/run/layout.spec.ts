import { describe, expect, it } from '@jest/globals';
import ELK from 'elkjs/lib/elk.bundled.js';
import { elkGraph, fastLayout, linkedKeys, MIN_FIT_ZOOM, NODE_HEIGHT, NODE_WIDTH, OPEN_ZOOM, openingView, type LayoutNode, type Positions } from './layout';

/** Edge pairs that cross between two adjacent layers. */
function crossings(nodes: readonly LayoutNode[], positions: Positions): number {
  const edges = nodes.flatMap((n) => n.dependsOn.map((d) => [positions[d]!, positions[n.key]!] as const));
  let count = 0;
  for (let i = 0; i < edges.length; i++)
    for (let j = i + 1; j < edges.length; j++) {
      const [a, b] = [edges[i]!, edges[j]!];
      if (a[0].x !== b[0].x || a[1].x !== b[1].x) continue;
      if ((a[0].y - b[0].y) * (a[1].y - b[1].y) < 0) count++;
    }
  return count;
}

describe('the first layout', () => {
  it('puts each node in the layer after its longest chain of dependencies, left to right', () => {
    const nodes = [
      { key: 'fetch', dependsOn: [] },
      { key: 'lint', dependsOn: [] },
      { key: 'build', dependsOn: ['fetch'] },
      { key: 'test', dependsOn: ['build', 'lint'] },
      { key: 'ship', dependsOn: ['test', 'fetch'] },
    ];
    const at = fastLayout(nodes);
    expect([at.fetch!.x, at.lint!.x, at.build!.x, at.test!.x, at.ship!.x].map((x) => x / at.build!.x)).toEqual([0, 0, 1, 2, 3]);
  });

  it('orders a layer after its dependencies, so crossed edges untangle', () => {
    // Given in an order that crosses every edge: a1 feeds b1 and c1, a2 feeds b2 and c2, listed the other way round.
    const nodes = [
      { key: 'a1', dependsOn: [] },
      { key: 'a2', dependsOn: [] },
      { key: 'b2', dependsOn: ['a2'] },
      { key: 'b1', dependsOn: ['a1'] },
      { key: 'c2', dependsOn: ['b2'] },
      { key: 'c1', dependsOn: ['b1'] },
    ];
    expect(crossings(nodes, fastLayout(nodes))).toBe(0);
  });

  it('lays out 2,000 nodes with no two boxes overlapping and every edge going right', () => {
    const nodes: LayoutNode[] = [];
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let i = 0; i < 2000; i++) {
      const deps = i < 20 ? [] : [...new Set([0, 1, 2].slice(0, 1 + Math.floor(rand() * 3)).map(() => `n${Math.floor(rand() * i)}`))];
      nodes.push({ key: `n${i}`, dependsOn: deps });
    }
    const at = fastLayout(nodes);
    expect(Object.keys(at)).toHaveLength(2000);
    for (const n of nodes) for (const d of n.dependsOn) expect(at[d]!.x + NODE_WIDTH).toBeLessThan(at[n.key]!.x);
    const byColumn = new Map<number, number[]>();
    for (const p of Object.values(at)) byColumn.set(p.x, [...(byColumn.get(p.x) ?? []), p.y]);
    for (const ys of byColumn.values()) {
      ys.sort((a, b) => a - b);
      for (let i = 1; i < ys.length; i++) expect(ys[i]! - ys[i - 1]!).toBeGreaterThanOrEqual(NODE_HEIGHT);
    }
  });
});

describe('the opening view', () => {
  /** A layered graph: `layers` columns of `rows` nodes, each depending on the node beside it in the layer before. */
  const grid = (layers: number, rows: number) => {
    const nodes: LayoutNode[] = [];
    for (let l = 0; l < layers; l++) for (let r = 0; r < rows; r++) nodes.push({ key: `l${l}r${r}`, dependsOn: l ? [`l${l - 1}r${r}`] : [] });
    return fastLayout(nodes);
  };
  /** Where a node's box lands in a view, in px. */
  const onScreen = (at: { x: number; y: number }, view: { x: number; y: number; zoom: number }) => ({
    left: at.x * view.zoom + view.x,
    top: at.y * view.zoom + view.y,
    right: (at.x + NODE_WIDTH) * view.zoom + view.x,
    bottom: (at.y + NODE_HEIGHT) * view.zoom + view.y,
  });

  it('fits a small run whole, centred, at most at 100%', () => {
    const at = grid(3, 2);
    const view = openingView(at, 1200, 500);
    expect(view.fitted).toBe(true);
    expect(view.zoom).toBeLessThanOrEqual(1);
    for (const p of Object.values(at)) {
      const box = onScreen(p, view);
      expect(box.left).toBeGreaterThanOrEqual(0);
      expect(box.top).toBeGreaterThanOrEqual(0);
      expect(box.right).toBeLessThanOrEqual(1200);
      expect(box.bottom).toBeLessThanOrEqual(500);
    }
  });

  it('opens a run too big to read whole at a readable zoom on its first running or failed node', () => {
    const at = grid(20, 100);
    const view = openingView(at, 1200, 430, ['l7r60', 'l5r90', 'l5r40', 'l9r0']);
    expect(view.fitted).toBe(false);
    expect(view.zoom).toBe(OPEN_ZOOM);
    expect(view.zoom).toBeGreaterThanOrEqual(MIN_FIT_ZOOM);
    // Layer 5 comes first; within it the top one.
    const box = onScreen(at.l5r40!, view);
    expect(box.left).toBeGreaterThanOrEqual(0);
    expect(box.top).toBeGreaterThanOrEqual(0);
    expect(box.right).toBeLessThanOrEqual(1200);
    expect(box.bottom).toBeLessThanOrEqual(430);
  });

  it('with nothing running, opens on the first node with an edge rather than on an unconnected one', () => {
    const nodes = [{ key: 'alone', dependsOn: [] }, { key: 'a', dependsOn: [] }, { key: 'b', dependsOn: ['a'] }];
    expect(linkedKeys(nodes).sort()).toEqual(['a', 'b']);
    // As ELK packs them: the unconnected node in a row above the graph, at the far left.
    const at: Positions = { alone: { x: 0, y: 0 }, a: { x: 400, y: 5000 }, b: { x: 800, y: 5000 } };
    const view = openingView(at, 1200, 430, [], linkedKeys(nodes));
    const box = onScreen(at.a!, view);
    expect([box.left >= 0 && box.right <= 1200, box.top >= 0 && box.bottom <= 430]).toEqual([true, true]);
  });

  it('opens on the top of the first layer when nothing runs', () => {
    const at = grid(20, 100);
    const view = openingView(at, 1200, 430);
    const box = onScreen(at.l0r0!, view);
    expect(view.zoom).toBe(OPEN_ZOOM);
    expect([box.left >= 0 && box.right <= 1200, box.top >= 0 && box.bottom <= 430]).toEqual([true, true]);
  });
});

describe('the refined layout', () => {
  it('stays about as compact as the first one on a dense run, so the whole run fits a screen', async () => {
    // 8 layers of 40, each node fed by 1-3 of the layer before: many crossing edges between layers.
    let seed = 11;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const nodes: LayoutNode[] = [];
    for (let l = 0; l < 8; l++)
      for (let i = 0; i < 40; i++) nodes.push({ key: `n${l}-${i}`, dependsOn: l === 0 ? [] : [...new Set([0, 1, 2].slice(0, 1 + Math.floor(rand() * 3)).map(() => `n${l - 1}-${Math.floor(rand() * 40)}`))] });
    const laid = await new ELK().layout(elkGraph(nodes));
    const first = Object.values(fastLayout(nodes));
    const span = (values: number[]) => Math.max(...values) - Math.min(...values);
    expect(laid.height!).toBeLessThan(1.5 * (span(first.map((p) => p.y)) + NODE_HEIGHT));
    expect(laid.width!).toBeLessThan(2.5 * (span(first.map((p) => p.x)) + NODE_WIDTH));
  });
});
