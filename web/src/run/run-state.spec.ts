import { describe, expect, it } from '@jest/globals';
import type { RunEvent, RunNode, RunStatus } from '../api';
import { applyEvents, CHECKPOINT_EVERY, countStatuses, initialFold, logLineOf, NodeMap, RunTimeline, type RunFold } from './run-state';

/** What this test uses of the server's ingest state machine (src/runs/run-state.ts). */
interface ServerNode {
  key: string;
  dependsOn: string[];
  status: RunNode['status'];
  reason: string | null;
  percent: number | null;
  message: string | null;
  stalled: boolean;
  startedAt: string | null;
  endedAt: string | null;
  output: unknown;
  error: { message: string; code?: string } | null;
}
interface IncomingEvent {
  node: string;
  type: 'started' | 'progress' | 'log' | 'heartbeat' | 'succeeded' | 'failed' | 'skipped';
  percent?: number;
  message?: string;
  level?: 'debug' | 'info' | 'warn' | 'error';
  output?: unknown;
  error?: { message: string; code?: string };
  at?: string;
}
interface ServerRunState {
  readonly runStatus: RunStatus;
  readonly events: { id: string; at: string; node: string; type: string; data: Record<string, unknown> }[];
  apply(events: IncomingEvent[], seen: Set<string>, now: string): unknown;
  stall(keys: string[], staleAfterSeconds: number, now: string): number;
  cancel(now: string): void;
}
// The server's own state machine, so the page's fold is checked against what the server's rows become.
// Imported by a path the page's type check does not follow: it checks browser code, not Nest's decorators.
const serverModule = '../../../src/runs/run-state';
const { RunState: ServerRunState } = (await import(serverModule)) as { RunState: new (status: RunStatus, nodes: Map<string, ServerNode>) => ServerRunState };

function def(key: string, dependsOn: string[] = []): RunNode {
  return { key, title: key, skill: 's@1.0.0', dependsOn, status: 'pending', reason: null, percent: null, message: null, stalled: false, startedAt: null, endedAt: null };
}

/** A seeded generator, so a failing case can be run again. */
function random(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Drives the server's RunState and keeps the events it stores, numbered as the ingest numbers them. */
class Server {
  readonly nodes: Map<string, ServerNode>;
  status: RunStatus = 'pending';
  readonly events: RunEvent[] = [];
  private clock = Date.parse('2026-03-01T10:00:00.000Z');

  constructor(defs: RunNode[]) {
    this.nodes = new Map(defs.map((d) => [d.key, { key: d.key, dependsOn: d.dependsOn, status: 'pending', reason: null, percent: null, message: null, stalled: false, startedAt: null, endedAt: null, output: undefined, error: null }]));
  }

  tick(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }

  private run(job: (state: ServerRunState, now: string) => void): boolean {
    const state = new ServerRunState(this.status, this.nodes);
    try {
      job(state, this.tick());
    } catch {
      return false;
    }
    this.status = state.runStatus;
    for (const e of state.events) this.events.push({ seq: this.events.length + 1, id: e.id, at: e.at, node: e.node, type: e.type, ...e.data });
    return true;
  }

  report(events: IncomingEvent[]): boolean {
    return this.run((state, now) => state.apply(events.map((e) => ({ at: this.tick(), ...e })), new Set(), now));
  }

  stall(keys: string[]): boolean {
    return this.run((state, now) => state.stall(keys, 60, now));
  }

  cancel(): boolean {
    return this.run((state, now) => state.cancel(now));
  }
}

/** What the page shows of a node, from the server's row or the page's fold. */
function visible(node: { status: string; reason: string | null; percent: number | null; message: string | null; stalled: boolean; startedAt: string | null; endedAt: string | null; output?: unknown; error?: unknown }) {
  return { status: node.status, reason: node.reason, percent: node.percent, message: node.message, stalled: node.stalled, startedAt: node.startedAt, endedAt: node.endedAt, output: node.output ?? null, error: node.error ?? null };
}

function expectSame(fold: RunFold, server: Server): void {
  expect(fold.status).toBe(server.status);
  expect(fold.seq).toBe(server.events.length);
  for (const [key, node] of server.nodes) expect({ key, ...visible(fold.nodes.get(key)!) }).toEqual({ key, ...visible(node) });
}

describe('folding events into node states', () => {
  it('starts a node on its first event, keeps percent and message, and ends it with its output', () => {
    const server = new Server([def('fetch'), def('build', ['fetch'])]);
    expect(server.report([{ node: 'fetch', type: 'progress', percent: 40, message: 'halfway' }])).toBe(true);
    let fold = applyEvents(initialFold([def('fetch'), def('build', ['fetch'])]), server.events);
    expect(fold.status).toBe('running');
    expect(fold.nodes.get('fetch')).toMatchObject({ status: 'running', percent: 40, message: 'halfway', startedAt: server.events[0]!.at });
    expect(server.report([{ node: 'fetch', type: 'succeeded', output: { rows: 3 } }])).toBe(true);
    fold = applyEvents(fold, server.events);
    expect(fold.nodes.get('fetch')).toMatchObject({ status: 'succeeded', percent: 100, output: { rows: 3 } });
    expectSame(fold, server);
  });

  it('skips everything downstream of a failure with reason upstream_failed, from the events Vitrine wrote', () => {
    const defs = [def('a'), def('b', ['a']), def('c', ['b']), def('d')];
    const server = new Server(defs);
    server.report([{ node: 'a', type: 'started' }]);
    server.report([{ node: 'd', type: 'succeeded' }]);
    server.report([{ node: 'a', type: 'failed', error: { message: 'disk full', code: 'ENOSPC' } }]);
    expect(server.events.filter((e) => e.type === 'skipped').map((e) => [e.node, e.reason])).toEqual([
      ['b', 'upstream_failed'],
      ['c', 'upstream_failed'],
    ]);
    const fold = applyEvents(initialFold(defs), server.events);
    expect(fold.nodes.get('c')).toMatchObject({ status: 'skipped', reason: 'upstream_failed' });
    expect(fold.nodes.get('a')!.error).toEqual({ message: 'disk full', code: 'ENOSPC' });
    expect(fold.status).toBe('failed');
    expect(fold.endedAt).toBe(server.events.at(-1)!.at);
    expectSame(fold, server);
  });

  it('marks a node stalled, clears it on its next event, and cancels every unfinished node', () => {
    const defs = [def('a'), def('b', ['a']), def('c')];
    const server = new Server(defs);
    server.report([{ node: 'a', type: 'started' }, { node: 'c', type: 'succeeded' }]);
    server.stall(['a']);
    let fold = applyEvents(initialFold(defs), server.events);
    expect(fold.nodes.get('a')!.stalled).toBe(true);
    expect(fold.nodes.get('a')!.lastEventAt).toBe(server.events[0]!.at);
    // From a snapshot (no earlier event known), silence is counted from the run's limit before the mark.
    const stalled = server.events.at(-1)!;
    const fromSnapshot = applyEvents({ ...initialFold(defs), seq: stalled.seq - 1 }, [stalled]);
    expect(Date.parse(stalled.at) - Date.parse(fromSnapshot.nodes.get('a')!.lastEventAt!)).toBe(60_000);
    expect(countStatuses(fold.nodes)).toMatchObject({ running: 1, succeeded: 1, pending: 1, stalled: 1 });
    server.report([{ node: 'a', type: 'heartbeat' }]);
    fold = applyEvents(fold, server.events);
    expect(fold.nodes.get('a')!.stalled).toBe(false);
    server.cancel();
    fold = applyEvents(fold, server.events);
    expect(fold.status).toBe('cancelled');
    expect(fold.nodes.get('b')).toMatchObject({ status: 'cancelled', reason: 'cancelled' });
    expect(fold.nodes.get('c')!.status).toBe('succeeded');
    expectSame(fold, server);
  });

  it('ends where the server ends, over random runs', () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 40; seed++) {
      const rand = random(seed);
      const size = 3 + Math.floor(rand() * 25);
      const defs: RunNode[] = [];
      for (let i = 0; i < size; i++) {
        const deps = defs.filter(() => rand() < 0.15).map((d) => d.key);
        defs.push(def(`n${i}`, deps));
      }
      const server = new Server(defs);
      let fold = initialFold(defs);
      // One run in four has no failure, skip or cancel, so some runs succeed.
      const calm = seed % 4 === 0;
      for (let step = 0; step < 300; step++) {
        const batch: IncomingEvent[] = [];
        for (let i = 1 + Math.floor(rand() * 4); i > 0; i--) {
          const node = defs[Math.floor(rand() * size)]!.key;
          const r = rand();
          if (r < 0.2) batch.push({ node, type: 'started', message: rand() < 0.5 ? `go ${step}` : undefined });
          else if (r < 0.45) batch.push({ node, type: 'progress', percent: Math.floor(rand() * 100), message: rand() < 0.5 ? `step ${step}` : undefined });
          else if (r < 0.6) batch.push({ node, type: 'log', message: `line ${step}`, level: 'warn' });
          else if (r < 0.65) batch.push({ node, type: 'heartbeat' });
          else if (r < 0.85) batch.push({ node, type: 'succeeded', output: rand() < 0.5 ? { step } : undefined, message: rand() < 0.3 ? 'done' : undefined });
          else if (calm) batch.push({ node, type: 'heartbeat' });
          else if (r < 0.93) batch.push({ node, type: 'failed', error: { message: `broke at ${step}` } });
          else batch.push({ node, type: 'skipped', message: rand() < 0.5 ? 'not needed' : undefined });
        }
        // Most random batches break a rule and are refused whole, as the server refuses them.
        server.report(batch);
        if (rand() < 0.05) server.stall(defs.filter(() => rand() < 0.3).map((d) => d.key));
        if (!calm && rand() < 0.01) server.cancel();
        // Folded a step at a time, as live events arrive, and from scratch: the same state.
        fold = applyEvents(fold, server.events);
      }
      expectSame(fold, server);
      expectSame(applyEvents(initialFold(defs), server.events), server);
      seen.add(`run ${server.status}`);
      for (const e of server.events) seen.add(e.reason ? `${e.type} ${e.reason}` : e.type);
    }
    // The random runs went through every kind of event and ending the fold must follow.
    expect(['cancelled cancelled', 'failed', 'log', 'run cancelled', 'run failed', 'run running', 'run succeeded', 'skipped', 'skipped upstream_failed', 'skipped upstream_skipped', 'stalled', 'started', 'succeeded'].filter((kind) => !seen.has(kind))).toEqual([]);
  });

  it('keeps every node of a big run after many batches, each map as it was made (NodeMap against a Map)', () => {
    const defs = Array.from({ length: 300 }, (_, i) => def(`n${i}`));
    let seed = 5;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    let fold = initialFold(defs);
    const reference = new Map(fold.nodes);
    const kept: [RunFold, Map<string, unknown>][] = [];
    let seq = 0;
    for (let batch = 0; batch < 40; batch++) {
      const events: RunEvent[] = Array.from({ length: 1 + Math.floor(rand() * 12) }, () => ({ seq: ++seq, id: `e${seq}`, at: '2026-03-01T10:00:00.000Z', node: `n${Math.floor(rand() * 300)}`, type: 'progress' as const, percent: seq % 100 }));
      fold = applyEvents(fold, events);
      for (const e of events) reference.set(e.node, fold.nodes.get(e.node)!);
      kept.push([fold, new Map(reference)]);
    }
    for (const [held, expected] of kept) {
      expect(held.nodes.size).toBe(300);
      expect(new Map(held.nodes)).toEqual(expected);
      for (const [key, node] of expected) expect(held.nodes.get(key)).toBe(node);
    }
    expect([...fold.nodes.keys()]).toEqual(defs.map((d) => d.key));
    expect(fold.nodes.get('nope')).toBeUndefined();
    expect(NodeMap.of([]).size).toBe(0);
  });

  it('makes new objects only for the nodes an event changed', () => {
    const defs = [def('a'), def('b')];
    const before = initialFold(defs);
    const after = applyEvents(before, [{ seq: 1, id: 'e1', at: '2026-03-01T10:00:00.000Z', node: 'a', type: 'started' }]);
    expect(after.nodes).not.toBe(before.nodes);
    expect(after.nodes.get('a')).not.toBe(before.nodes.get('a'));
    expect(after.nodes.get('b')).toBe(before.nodes.get('b'));
    expect(before.nodes.get('a')!.status).toBe('pending');
    // Events it has folded already change nothing.
    expect(applyEvents(after, [{ seq: 1, id: 'e1', at: '2026-03-01T10:00:00.000Z', node: 'a', type: 'failed', error: { message: 'x' } }])).toBe(after);
  });
});

describe('the timeline: state and logs at any seq', () => {
  function longRun() {
    const defs = [def('a'), def('b', ['a']), def('c', ['b']), def('side')];
    const server = new Server(defs);
    server.report([{ node: 'a', type: 'started' }, { node: 'side', type: 'started' }]);
    for (let i = 0; i < 700; i++) server.report([{ node: i % 2 ? 'a' : 'side', type: i % 3 ? 'log' : 'progress', message: `m${i}`, ...(i % 3 ? { level: 'info' as const } : { percent: i % 100 }) }]);
    server.report([{ node: 'a', type: 'succeeded' }, { node: 'b', type: 'started' }]);
    for (let i = 0; i < 300; i++) server.report([{ node: 'b', type: 'log', message: `b${i}`, level: i % 5 ? 'debug' : 'error' }]);
    server.report([{ node: 'b', type: 'failed', error: { message: 'bad' } }]);
    return { defs, server };
  }

  it('answers the state at every seq as a fold from the start would, with events added out of order', () => {
    const { defs, server } = longRun();
    const events = server.events;
    expect(events.length).toBeGreaterThan(3 * CHECKPOINT_EVERY);
    const timeline = new RunTimeline(defs);
    // Live events arrive before the history pages that precede them.
    timeline.add(events.slice(900));
    expect(timeline.contiguous).toBe(0);
    for (let i = 0; i < 900; i += 250) timeline.add(events.slice(i, Math.min(i + 250, 900)));
    expect(timeline.contiguous).toBe(events.length);
    let fold = initialFold(defs);
    for (const event of events) {
      fold = applyEvents(fold, [event]);
      const at = timeline.stateAt(event.seq);
      expect(at.seq).toBe(event.seq);
      expect(at.status).toBe(fold.status);
      expect([...at.nodes.values()].map(visible)).toEqual([...fold.nodes.values()].map(visible));
    }
    expect(timeline.stateAt(0).status).toBe('pending');
    expectSame(timeline.stateAt(events.length), server);
  });

  it('keeps each node’s log lines with level, message and seq, cut at the seq being viewed', () => {
    const { defs, server } = longRun();
    const timeline = new RunTimeline(defs);
    timeline.add(server.events);
    const b = timeline.logsOf('b');
    expect(b.at(-1)).toMatchObject({ level: 'error', kind: 'failed', message: 'failed: bad' });
    expect(b.filter((l) => l.kind === 'log')).toHaveLength(300);
    expect(b.filter((l) => l.level === 'error' && l.kind === 'log')).toHaveLength(60);
    const failedSeq = server.events.at(-2)!.seq;
    expect(timeline.logsOf('b', failedSeq - 1).at(-1)!.message).toBe('b299');
    expect(timeline.logsOf('c').map((l) => l.message)).toEqual(['skipped: upstream failed']);
    expect(timeline.logsOf('c', failedSeq)).toEqual([]);
    for (const line of timeline.logsOf('a')) expect(server.events[line.seq - 1]!.node).toBe('a');
  });

  it('makes no log line of a heartbeat or a bare progress', () => {
    const base = { seq: 1, id: 'e', at: '2026-03-01T10:00:00.000Z', node: 'a' };
    expect(logLineOf({ ...base, type: 'heartbeat' })).toBeNull();
    expect(logLineOf({ ...base, type: 'progress', percent: 5 })).toBeNull();
    expect(logLineOf({ ...base, type: 'log', message: 'hi' })).toMatchObject({ level: 'info', message: 'hi', seq: 1 });
  });
});
