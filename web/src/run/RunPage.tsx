import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { api, ProblemError, type Page, type Run, type RunEvent } from '../api';
import { AppHeader } from '../components/AppHeader';
import { ConnectionStatus } from '../components/ConnectionStatus';
import { ErrorState, Loading } from '../components/states';
import { live as liveClient, type LiveError } from '../live';
import { fastLayout, refineLayout, storedLayout, storeLayout, type Positions } from './layout';
import { NodePanel } from './NodePanel';
import { AsOf, RunGraph, type NodeFilter } from './RunGraph';
import { RunHeader } from './RunHeader';
import { applyEvents, foldFromRun, RunTimeline, type RunFold } from './run-state';
import '../components/controls.css';
import './run-page.css';

/** `/runs/{id}`: loads the run, then the live view (RunView). */
export function RunPage({ id }: { id: string }) {
  const [run, setRun] = useState<Run>();
  const [error, setError] = useState<ProblemError>();
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    let current = true;
    setError(undefined);
    api<Run>(`/runs/${id}`).then(
      (found) => current && setRun(found),
      (failure: ProblemError) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [id, attempt]);

  if (error || !run) {
    return (
      <>
        <AppHeader>
          <Link href="/">Runs</Link>
          <span aria-current="page">{error ? (error.status === 404 ? 'Run not found' : 'Run') : 'Run'}</span>
        </AppHeader>
        <main id="main" className="run-page">
          {error ? <ErrorState error={error} retry={error.status === 404 ? undefined : () => setAttempt((n) => n + 1)} /> : <Loading what="the run" />}
        </main>
      </>
    );
  }
  return <RunView key={run.id} run={run} />;
}

/** `?seq=` (a moment of the run) and `?node=` (its open panel), read from and written to the URL. */
function useRunParams(runId: string) {
  const search = useSearch();
  const [, navigate] = useLocation();
  const params = new URLSearchParams(search);
  const seqText = params.get('seq');
  const seq = seqText && /^[1-9]\d{0,9}$/.test(seqText) ? Number(seqText) : undefined;
  const node = params.get('node');
  const searchRef = useRef(search);
  searchRef.current = search;
  const set = useCallback(
    (change: { seq?: number | null; node?: string | null }) => {
      const next = new URLSearchParams(searchRef.current);
      for (const [key, value] of Object.entries(change)) {
        if (value === undefined) continue;
        if (value === null) next.delete(key);
        else next.set(key, String(value));
      }
      const query = next.toString();
      // Replaced, not pushed: scrubbing would otherwise fill the history with every seq passed.
      navigate(query ? `/runs/${runId}?${query}` : `/runs/${runId}`, { replace: true });
    },
    [navigate, runId],
  );
  return { seq, node, set, search };
}

/** Pages of the run's history, fetched once wanted (scrubbing, a node's log) and kept in the timeline. */
function useHistory(runId: string, timeline: RunTimeline, wanted: boolean, changed: () => void) {
  const [error, setError] = useState<ProblemError>();
  useEffect(() => {
    if (!wanted) return;
    let current = true;
    void (async () => {
      try {
        for (;;) {
          const page = await api<Page<RunEvent>>(`/runs/${runId}/events?after=${timeline.contiguous}&limit=1000`);
          if (!current) return;
          timeline.add(page.items);
          changed();
          if (!page.nextCursor || page.items.length === 0) return;
        }
      } catch (failure) {
        if (current) setError(failure as ProblemError);
      }
    })();
    return () => {
      current = false;
    };
  }, [runId, timeline, wanted, changed]);
  return error;
}

function RunView({ run }: { run: Run }) {
  const client = liveClient();
  const [live, setLive] = useState<RunFold>(() => foldFromRun(run));
  const timeline = useMemo(() => new RunTimeline(run.nodes), [run]);
  const [timelineVersion, setTimelineVersion] = useState(0);
  const timelineChanged = useCallback(() => setTimelineVersion(timeline.version), [timeline]);
  const [watching, setWatching] = useState(false);
  // The server refused or dropped the subscription (access changed): the page says its state is no longer live.
  const [liveError, setLiveError] = useState<LiveError>();

  // Live: every event once, in order, across reconnects (watchRun resubscribes after the last seq);
  // applied in one batch per animation frame, so 500 events/s cost one render a frame.
  useEffect(() => {
    let queue: RunEvent[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const batch = queue;
      queue = [];
      setLive((held) => applyEvents(held, batch));
      const before = timeline.version;
      timeline.add(batch);
      if (timeline.version !== before) setTimelineVersion(timeline.version);
    };
    const stop = client.watchRun(run.id, run.lastSeq, {
      onSnapshot: () => {
        setWatching(true);
        setLiveError(undefined);
      },
      onError: (failure) => {
        setWatching(false);
        setLiveError(failure);
      },
      onEvent: (event) => {
        queue.push(event);
        frame ||= requestAnimationFrame(flush);
      },
    });
    return () => {
      stop();
      cancelAnimationFrame(frame);
    };
  }, [client, run, timeline]);

  const params = useRunParams(run.id);
  const liveSeq = live.seq;
  const viewing = params.seq !== undefined ? Math.min(params.seq, liveSeq) : undefined;
  const selected = params.node && live.nodes.has(params.node) ? params.node : null;
  const historyError = useHistory(run.id, timeline, viewing !== undefined || selected !== null, timelineChanged);

  // The state shown: live, or the timeline's at the viewed seq once it holds that far (the last one shown until then).
  const ready = viewing === undefined || timeline.contiguous >= viewing;
  const scrubbed = useMemo(() => (viewing !== undefined && ready ? timeline.stateAt(viewing) : undefined), [viewing, ready, timeline]);
  const lastShown = useRef<RunFold>(live);
  const shown = viewing === undefined ? live : (scrubbed ?? lastShown.current);
  lastShown.current = shown;
  const asOfText = viewing !== undefined && ready ? timeline.atOf(viewing) : undefined;
  const asOf = asOfText ? Date.parse(asOfText) : undefined;
  const lastAsOf = useRef<number | undefined>(undefined);
  if (asOf !== undefined) lastAsOf.current = asOf;

  const [layout, setLayout] = useState<{ positions: Positions; kind: 'fast' | 'full' }>(() => {
    const stored = storedLayout(run.id, run.nodes);
    return stored ? { positions: stored, kind: 'full' } : { positions: fastLayout(run.nodes), kind: 'fast' };
  });
  useEffect(() => {
    if (layout.kind === 'full') return;
    const stop = new AbortController();
    refineLayout({ runId: run.id, nodes: run.nodes.map((n) => ({ key: n.key, dependsOn: n.dependsOn })) }, stop.signal).then(
      (positions) => {
        storeLayout(run.id, positions);
        setLayout({ positions, kind: 'full' });
      },
      // The first view stays: it is a complete layout, only less tidy.
      () => undefined,
    );
    return () => stop.abort();
  }, [run, layout.kind]);

  const [filter, setFilter] = useState<NodeFilter | null>(null);
  const open = useCallback((key: string) => params.set({ node: params.node === key ? null : key }), [params]);
  const selectedNode = selected ? shown.nodes.get(selected) : undefined;
  const viewSeq = viewing ?? liveSeq;
  // Read from the timeline at render (timelineVersion re-renders when it grows): undefined until it holds the seq viewed.
  const lines = useMemo(
    () => (selected && timelineVersion >= 0 && timeline.contiguous >= viewSeq ? timeline.logsOf(selected, viewSeq) : undefined),
    [selected, timeline, timelineVersion, viewSeq],
  );

  return (
    <>
      <AppHeader>
        <Link href="/">Runs</Link>
        <span aria-current="page">{run.title}</span>
      </AppHeader>
      <ConnectionStatus client={client} />
      <AsOf.Provider value={viewing !== undefined ? (asOf ?? lastAsOf.current) : undefined}>
        <main id="main" className="run-page" data-watching={watching ? 'true' : undefined}>
          <RunHeader run={run} state={shown} live={live} filter={filter} onFilter={setFilter} />
          {viewing !== undefined && (
            <div className="scrub-banner" role="status">
              <span>
                Viewing seq <strong>{viewing.toLocaleString('en')}</strong> of {liveSeq.toLocaleString('en')}
                {!ready && ' — loading the events up to it…'}
              </span>
              <button
                type="button"
                className="primary"
                onClick={() => {
                  params.set({ seq: null });
                  // The banner and its button go: focus stays on the timeline rather than falling to the page.
                  document.getElementById('scrubber')?.focus();
                }}
              >
                Live ⟶
              </button>
            </div>
          )}
          {liveError && <ErrorState error={liveError} title="Live updates stopped: what is shown may be out of date" />}
          {historyError && <ErrorState error={historyError} />}
          <div className={`run-body${selectedNode ? ' with-panel' : ''}`}>
            <div className="run-main">
              <RunGraph
                runId={run.id}
                definitions={run.nodes}
                nodes={shown.nodes}
                staleAfterSeconds={run.staleAfterSeconds}
                positions={layout.positions}
                layout={layout.kind}
                filter={filter}
                selected={selected}
                onOpen={open}
              />
              <Scrubber liveSeq={liveSeq} viewing={viewing} onView={(seq) => params.set({ seq: seq >= liveSeq ? null : seq })} />
            </div>
            {selectedNode && (
              <NodePanel
                node={selectedNode}
                staleAfterSeconds={run.staleAfterSeconds}
                lines={lines}
                seq={viewSeq}
                linkTo={`/runs/${run.id}?seq=${viewSeq}&node=${encodeURIComponent(selectedNode.key)}`}
                onClose={() => params.set({ node: null })}
              />
            )}
          </div>
        </main>
      </AsOf.Provider>
    </>
  );
}

/**
 * Time travel: seq 1 to the live head. ←/→ move one event, with Shift ten; the far right is live.
 * The value is kept while dragging and sent on; the URL (`?seq=`) follows, so a moment can be shared.
 */
function Scrubber({ liveSeq, viewing, onView }: { liveSeq: number; viewing: number | undefined; onView: (seq: number) => void }) {
  const value = viewing ?? liveSeq;
  const keyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (!event.shiftKey || (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight')) return;
    event.preventDefault();
    onView(Math.max(1, Math.min(liveSeq, value + (event.key === 'ArrowLeft' ? -10 : 10))));
  };
  return (
    <div className="scrubber">
      <label htmlFor="scrubber">Time travel</label>
      <input
        id="scrubber"
        data-testid="scrubber"
        type="range"
        min={liveSeq > 0 ? 1 : 0}
        max={liveSeq}
        step={1}
        value={value}
        disabled={liveSeq < 2}
        aria-valuetext={viewing === undefined ? `live, seq ${liveSeq}` : `seq ${value} of ${liveSeq}`}
        onChange={(event) => onView(Number(event.currentTarget.value))}
        onKeyDown={keyDown}
      />
      <output htmlFor="scrubber" className="tabular">
        {viewing === undefined ? (
          <>
            <span className="live-dot" aria-hidden="true" /> live · seq {liveSeq.toLocaleString('en')}
          </>
        ) : (
          `seq ${value.toLocaleString('en')} / ${liveSeq.toLocaleString('en')}`
        )}
      </output>
    </div>
  );
}
