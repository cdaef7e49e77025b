import { describe, expect, it } from '@jest/globals';
import type { Run, RunEvent, RunNode } from '../api';
import { applyEvents, applySnapshot, applyStatus, applyUpdates, attentionOf, countNodes, filtersFromSearch, mergeRows, parseLabel, rowOf, runsPath, searchFromFilters } from './runs-list-model';

function node(key: string, extra: Partial<RunNode> = {}): RunNode {
  return { key, title: key, skill: 's', dependsOn: [], status: 'pending', reason: null, percent: null, message: null, stalled: false, startedAt: null, endedAt: null, ...extra };
}

function run(extra: Partial<Run> = {}): Run {
  return {
    id: '0190a7b2-0000-7000-8000-000000000001',
    title: 'nightly',
    status: 'pending',
    teamId: null,
    labels: {},
    staleAfterSeconds: 60,
    createdBy: 'u',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    endedAt: null,
    lastSeq: 0,
    nodes: [node('fetch'), node('build', { dependsOn: ['fetch'] }), node('test', { dependsOn: ['build'] })],
    ...extra,
  };
}

let seq = 0;
const event = (key: string, type: RunEvent['type'], extra: Partial<RunEvent> = {}): RunEvent => ({ seq: ++seq, id: `e${seq}`, at: '2026-01-01T00:00:01.000Z', node: key, type, ...extra });

describe('filters in the URL', () => {
  it('reads status, team and repeated labels, and writes them back in a stable order', () => {
    const filters = filtersFromSearch('label=env%3Aprod&status=failed&team=t1&label=owner:ana');
    expect(filters).toEqual({ status: 'failed', team: 't1', labels: ['env:prod', 'owner:ana'] });
    expect(searchFromFilters(filters)).toBe('status=failed&team=t1&label=env%3Aprod&label=owner%3Aana');
    expect(filtersFromSearch(searchFromFilters(filters))).toEqual(filters);
  });

  it('drops a status the API does not know and empty or repeated labels', () => {
    expect(filtersFromSearch('status=exploded&label=&label=a:b&label=a:b')).toEqual({ labels: ['a:b'] });
  });

  it('asks the API with its own names (teamId), the page size and the cursor', () => {
    expect(runsPath({ status: 'running', team: 't1', labels: ['a:b', 'c:d e'] }, 'abc', 20)).toBe('/runs?status=running&teamId=t1&label=a%3Ab&label=c%3Ad+e&limit=20&cursor=abc');
    expect(runsPath({ labels: [] })).toBe('/runs?limit=50');
  });

  it('takes a label as key:value and says how to write one otherwise', () => {
    expect(parseLabel(' env : prod ')).toEqual({ label: 'env:prod' });
    expect(parseLabel('url:http://x:1')).toEqual({ label: 'url:http://x:1' });
    expect(parseLabel('prod')).toHaveProperty('error');
    expect(parseLabel(':prod')).toHaveProperty('error');
    expect(parseLabel(`${'k'.repeat(65)}:v`)).toHaveProperty('error');
  });
});

describe('rows kept current from /live', () => {
  it('folds events into node states as the service does, and counts them', () => {
    const row = applyEvents(rowOf(run()), [event('fetch', 'log', { message: 'hi' }), event('fetch', 'succeeded'), event('build', 'progress', { percent: 40 })]);
    expect(row.nodes).toEqual({ fetch: { status: 'succeeded', stalled: false }, build: { status: 'running', stalled: false }, test: { status: 'pending', stalled: false } });
    expect(countNodes(row)).toMatchObject({ succeeded: 1, running: 1, pending: 1, done: 1, total: 3, stalled: 0 });
  });

  it('marks a silent running node stalled until its next event, and such a run needs attention', () => {
    let row = applyEvents(rowOf(run({ status: 'running' })), [event('fetch', 'started'), event('fetch', 'stalled')]);
    expect(row.nodes.fetch).toEqual({ status: 'running', stalled: true });
    expect(attentionOf(row)).toBe('stalled');
    row = applyEvents(row, [event('fetch', 'heartbeat')]);
    expect(row.nodes.fetch).toEqual({ status: 'running', stalled: false });
    expect(attentionOf(row)).toBeNull();
  });

  it('a failed run needs attention; a succeeded or cancelled one does not', () => {
    const row = rowOf(run());
    expect(attentionOf(applyStatus(row, 'failed'))).toBe('failed');
    expect(attentionOf(applyStatus(row, 'succeeded'))).toBeNull();
    expect(attentionOf({ ...applyStatus(row, 'cancelled'), nodes: { a: { status: 'cancelled', stalled: true } } })).toBeNull();
  });

  it('skips events it already holds (the replay after a snapshot) and returns the same row when nothing is new', () => {
    const first = event('fetch', 'started');
    const second = event('fetch', 'succeeded');
    const row = applySnapshot(rowOf(run()), run({ lastSeq: second.seq, nodes: [node('fetch', { status: 'succeeded' }), node('build'), node('test')] }));
    expect(applyEvents(row, [first, second])).toBe(row);
    // A replayed `started` must not take a finished node back to running.
    expect(row.nodes.fetch!.status).toBe('succeeded');
  });

  it('a row that has seen later events keeps them over an older snapshot', () => {
    const row = applyEvents(rowOf(run()), [event('fetch', 'started'), event('fetch', 'succeeded')]);
    expect(applySnapshot(row, run({ lastSeq: row.lastSeq - 1 }))).toBe(row);
    expect(applySnapshot(row, run({ lastSeq: row.lastSeq, status: 'running' })).status).toBe('running');
  });

  it('merges pages and newer runs newest first, each run once, keeping the row it had', () => {
    const a = rowOf(run({ id: '0190a7b2-0000-7000-8000-00000000000a' }));
    const b = rowOf(run({ id: '0190a7b2-0000-7000-8000-00000000000b' }));
    const c = rowOf(run({ id: '0190a7b2-0000-7000-8000-00000000000c' }));
    const heldB = applyStatus(b, 'running');
    expect(mergeRows([heldB, a], [c, b]).map((r) => [r.id.slice(-1), r.status])).toEqual([
      ['c', 'pending'],
      ['b', 'running'],
      ['a', 'pending'],
    ]);
  });

  it('applies a frame of updates per run in arrival order, leaving untouched rows as they were', () => {
    const a = rowOf(run({ id: '0190a7b2-0000-7000-8000-00000000000a' }));
    const b = rowOf(run({ id: '0190a7b2-0000-7000-8000-00000000000b' }));
    const [nextA, nextB] = applyUpdates(
      [a, b],
      [
        { runId: a.id, kind: 'events', events: [event('fetch', 'started')] },
        { runId: a.id, kind: 'status', status: 'running' },
        { runId: a.id, kind: 'events', events: [event('fetch', 'failed')] },
        { runId: a.id, kind: 'status', status: 'failed' },
      ],
    );
    expect(nextA).toMatchObject({ status: 'failed', nodes: { fetch: { status: 'failed' } } });
    expect(nextB).toBe(b);
  });
});
