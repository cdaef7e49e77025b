import { memo, useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { api, TERMINAL_RUN, type Page, type ProblemError, type Run, type RunStatus } from '../api';
import { AppHeader } from '../components/AppHeader';
import { ConnectionStatus } from '../components/ConnectionStatus';
import { StatusBadge, StatusIcon } from '../components/StatusBadge';
import { Empty, ErrorState, Loading } from '../components/states';
import { fetchAll, type Team } from '../lib/resources';
import { formatAbsolute, formatDuration, formatRelative } from '../lib/time';
import { useClock, useNow } from '../lib/use-now';
import { live } from '../live';
import {
  applyUpdates,
  attentionOf,
  countNodes,
  filtersFromSearch,
  hasFilters,
  mergeRows,
  parseLabel,
  RUN_STATUSES,
  rowOf,
  runsPath,
  searchFromFilters,
  type RowUpdate,
  type RunFilters,
  type RunRow,
} from './runs-list-model';
import '../components/controls.css';
import './runs-list.css';

type Load = { status: 'loading' } | { status: 'error'; error: ProblemError } | { status: 'ready'; nextCursor: string | null };

/**
 * `/`: the org's runs, newest first (PAGE.md: on-call wants the runs that need a person now). Filters
 * live in the URL; unfinished runs are watched over `/live` and change in place.
 */
export function RunsList() {
  const search = useSearch();
  const [, navigate] = useLocation();
  const filters = useMemo(() => filtersFromSearch(search), [search]);
  const filterKey = searchFromFilters(filters);
  const setFilters = useCallback((next: RunFilters) => {
    const query = searchFromFilters(next);
    navigate(query ? `/?${query}` : '/');
  }, [navigate]);

  const teams = useTeams();
  const [rows, setRows] = useState<RunRow[]>([]);
  const [load, setLoad] = useState<Load>({ status: 'loading' });
  const [more, setMore] = useState<{ busy: boolean; error?: ProblemError }>({ busy: false });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let current = true;
    setLoad({ status: 'loading' });
    setMore({ busy: false });
    api<Page<Run>>(runsPath(filters)).then(
      (page) => {
        if (!current) return;
        setRows(page.items.map(rowOf));
        setLoad({ status: 'ready', nextCursor: page.nextCursor });
      },
      (error: ProblemError) => current && setLoad({ status: 'error', error }),
    );
    return () => {
      current = false;
    };
    // filterKey stands for filters: equal filters, the same list.
  }, [filterKey, attempt]);

  const loadMore = useCallback(async () => {
    if (load.status !== 'ready' || !load.nextCursor) return;
    setMore({ busy: true });
    try {
      const page = await api<Page<Run>>(runsPath(filters, load.nextCursor));
      setRows((held) => mergeRows(held, page.items.map(rowOf)));
      setLoad({ status: 'ready', nextCursor: page.nextCursor });
      setMore({ busy: false });
    } catch (error) {
      setMore({ busy: false, error: error as ProblemError });
    }
  }, [filters, load]);

  useLiveRows(rows, setRows);
  const watching = useNewRuns(load.status === 'ready', filters, rows, setRows);

  const running = rows.some((row) => !TERMINAL_RUN.has(row.status));
  const now = useClock(running);
  // Relative times ("5 min. ago") on every row move on more slowly.
  const later = useNow(true, 15_000);
  const attention = rows.filter((row) => attentionOf(row) !== null);

  return (
    <>
      <AppHeader />
      <ConnectionStatus client={live()} />
      <main id="main" className="runs-page" data-watching={watching || undefined}>
        <div className="runs-heading">
          <h1>Runs</h1>
          {attention.length > 0 && <AttentionSummary rows={attention} filters={filters} setFilters={setFilters} />}
        </div>
        <Filters filters={filters} setFilters={setFilters} teams={teams} />
        {load.status === 'loading' && <Loading what="runs" />}
        {load.status === 'error' && (
          <div>
            <ErrorState error={load.error} retry={() => setAttempt((n) => n + 1)} />
            {hasFilters(filters) && (
              <p className="state-action">
                <button type="button" onClick={() => setFilters({ labels: [] })}>
                  Clear filters
                </button>
              </p>
            )}
          </div>
        )}
        {load.status === 'ready' && rows.length === 0 && (
          <Empty>
            {hasFilters(filters) ? (
              <>
                No runs match these filters.{' '}
                <button type="button" className="link-button" onClick={() => setFilters({ labels: [] })}>
                  Clear filters
                </button>
              </>
            ) : (
              <>
                No runs yet — start one with the Reporter or <code>npm run demo</code>
              </>
            )}
          </Empty>
        )}
        {load.status === 'ready' && rows.length > 0 && (
          <>
            <RunsTable rows={rows} now={now} later={later} teams={teams} onLabel={(label) => !filters.labels.includes(label) && setFilters({ ...filters, labels: [...filters.labels, label] })} />
            {load.nextCursor && (
              <div className="load-more">
                <button type="button" onClick={loadMore} disabled={more.busy}>
                  {more.busy ? 'Loading…' : 'Load more'}
                </button>
                {more.error && <ErrorState error={more.error} />}
              </div>
            )}
          </>
        )}
      </main>
    </>
  );
}

interface Teams {
  list: Team[] | undefined;
  byId: ReadonlyMap<string, string>;
  error?: ProblemError;
}

/** The org's teams, for the filter and the team column (`GET /teams`). */
function useTeams(): Teams {
  const [teams, setTeams] = useState<Teams>({ list: undefined, byId: new Map() });
  useEffect(() => {
    let current = true;
    fetchAll<Team>('/teams').then(
      (list) => current && setTeams({ list, byId: new Map(list.map((team) => [team.id, team.name])) }),
      (error: ProblemError) => current && setTeams({ list: [], byId: new Map(), error }),
    );
    return () => {
      current = false;
    };
  }, []);
  return teams;
}

/**
 * Watches each unfinished run on the page (`subscribe {run, after: lastSeq}`) and folds what comes
 * into its row once per frame. A run that ends is read once more
 * for its end time, then left alone: an ended run never changes.
 */
function useLiveRows(rows: RunRow[], setRows: (update: (rows: RunRow[]) => RunRow[]) => void): void {
  const rowsRef = useRef(rows);
  rowsRef.current = rows;
  const watches = useRef(new Map<string, () => void>());
  const queue = useRef<RowUpdate[]>([]);
  const scheduled = useRef(false);

  const push = useCallback(
    (update: RowUpdate) => {
      queue.current.push(update);
      if (scheduled.current) return;
      scheduled.current = true;
      const flush = () => {
        scheduled.current = false;
        const updates = queue.current;
        queue.current = [];
        setRows((held) => applyUpdates(held, updates));
      };
      // A hidden tab gets no animation frames; it still folds its queue, once a second.
      if (document.hidden) setTimeout(flush, 1000);
      else requestAnimationFrame(flush);
    },
    [setRows],
  );

  const watching = rows
    .filter((row) => !TERMINAL_RUN.has(row.status))
    .map((row) => row.id)
    .join(',');

  useEffect(() => {
    const wanted = new Set(watching ? watching.split(',') : []);
    for (const [runId, stop] of watches.current) {
      if (wanted.has(runId)) continue;
      stop();
      watches.current.delete(runId);
    }
    const client = live();
    for (const runId of wanted) {
      if (watches.current.has(runId)) continue;
      const row = rowsRef.current.find((r) => r.id === runId);
      if (!row) continue;
      const stop = client.watchRun(runId, row.lastSeq, {
        onSnapshot: (run) => push({ runId, kind: 'snapshot', run }),
        onEvent: (event) => push({ runId, kind: 'events', events: [event] }),
        onUpdated: ({ status }) => {
          push({ runId, kind: 'status', status });
          if (TERMINAL_RUN.has(status)) {
            api<Run>(`/runs/${runId}`).then(
              (run) => push({ runId, kind: 'snapshot', run }),
              () => undefined,
            );
          }
        },
      });
      watches.current.set(runId, stop);
    }
  }, [watching, push]);

  useEffect(() => {
    const held = watches.current;
    return () => {
      for (const stop of held.values()) stop();
      held.clear();
    };
  }, []);
}

/**
 * Runs started since the list loaded, matching its filters, put at the top: told of each new run over
 * `/live` (`subscribe {runs}`), the list reads its first page again, one read at a time; and once the
 * subscription is in place (first, and after a reconnect), for the runs started before it was.
 * Whether the list is watching: subscribed, and that first read answered.
 */
function useNewRuns(ready: boolean, filters: RunFilters, rows: RunRow[], setRows: (update: (rows: RunRow[]) => RunRow[]) => void): boolean {
  const newest = useRef<string | undefined>(undefined);
  newest.current = rows[0]?.id;
  const [watching, setWatching] = useState(false);
  useEffect(() => {
    if (!ready) return;
    let current = true;
    let reading = false;
    let again = false;
    const read = () => {
      if (reading) {
        again = true;
        return;
      }
      reading = true;
      api<Page<Run>>(runsPath(filters))
        .then(
          (page) => {
            const since = newest.current;
            const fresh = page.items.filter((run) => since === undefined || run.id > since).map(rowOf);
            if (current && fresh.length) setRows((held) => mergeRows(held, fresh));
          },
          () => undefined,
        )
        .finally(() => {
          reading = false;
          if (current) setWatching(true);
          if (again && current) {
            again = false;
            read();
          }
        });
    };
    const stop = live().watchRuns({ onCreated: read, onSubscribed: read });
    return () => {
      current = false;
      setWatching(false);
      stop();
    };
  }, [ready, filters, setRows]);
  return watching;
}

function AttentionSummary({ rows, filters, setFilters }: { rows: RunRow[]; filters: RunFilters; setFilters: (next: RunFilters) => void }) {
  const failed = rows.filter((row) => attentionOf(row) === 'failed').length;
  const stalled = rows.length - failed;
  return (
    <p className="attention-summary">
      <span className="muted">Needs attention:</span>
      {failed > 0 &&
        (filters.status === 'failed' ? (
          <StatusBadge status="failed">{failed} failed</StatusBadge>
        ) : (
          <button type="button" className="link-button" onClick={() => setFilters({ ...filters, status: 'failed' })} title="Show only failed runs">
            <StatusBadge status="failed">{failed} failed</StatusBadge>
          </button>
        ))}
      {stalled > 0 && <StatusBadge status="stalled">{stalled} stalled</StatusBadge>}
    </p>
  );
}

function Filters({ filters, setFilters, teams }: { filters: RunFilters; setFilters: (next: RunFilters) => void; teams: Teams }) {
  const [label, setLabel] = useState('');
  const [labelError, setLabelError] = useState<string>();
  function addLabel(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!label.trim()) return;
    const parsed = parseLabel(label);
    if ('error' in parsed) return setLabelError(parsed.error);
    setLabelError(undefined);
    setLabel('');
    if (!filters.labels.includes(parsed.label)) setFilters({ ...filters, labels: [...filters.labels, parsed.label] });
  }
  // The URL's team is an option from the start, so the select shows it while the teams load.
  const unlisted = filters.team !== undefined && !teams.byId.has(filters.team);
  return (
    <form className="filters" aria-label="Filter runs" onSubmit={addLabel}>
      <label>
        <span>Status</span>
        <select value={filters.status ?? ''} onChange={(e) => setFilters({ ...filters, status: (e.target.value || undefined) as RunStatus | undefined })}>
          <option value="">All statuses</option>
          {RUN_STATUSES.map((status) => (
            <option key={status} value={status}>
              {status}
            </option>
          ))}
        </select>
      </label>
      <label>
        <span>Team</span>
        <select value={filters.team ?? ''} onChange={(e) => setFilters({ ...filters, team: e.target.value || undefined })} disabled={!teams.list} aria-describedby={teams.error ? 'teams-error' : undefined}>
          <option value="">All teams</option>
          {unlisted && <option value={filters.team}>{teams.list ? 'Unknown team' : 'Loading teams…'}</option>}
          {teams.list?.map((team) => (
            <option key={team.id} value={team.id}>
              {team.name}
            </option>
          ))}
        </select>
      </label>
      <div className="label-filter">
        <label htmlFor="label-filter">Label</label>
        <span className="with-button">
          <input
            id="label-filter"
            type="text"
            value={label}
            placeholder="key:value"
            onChange={(e) => setLabel(e.target.value)}
            aria-invalid={labelError ? true : undefined}
            aria-describedby={labelError ? 'label-error' : undefined}
            spellCheck={false}
          />
          <button type="submit">Add</button>
        </span>
      </div>
      {filters.labels.length > 0 && (
        <ul className="active-labels" aria-label="Label filters">
          {filters.labels.map((active) => (
            <li key={active}>
              <span className="chip">
                {active}
                <button type="button" className="chip-remove" aria-label={`Remove label filter ${active}`} onClick={() => setFilters({ ...filters, labels: filters.labels.filter((l) => l !== active) })}>
                  <svg width="10" height="10" viewBox="0 0 10 10" aria-hidden="true" focusable="false">
                    <path d="M2 2l6 6m0-6l-6 6" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" />
                  </svg>
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
      {hasFilters(filters) && (
        <button type="button" className="link-button clear-filters" onClick={() => setFilters({ labels: [] })}>
          Clear filters
        </button>
      )}
      {labelError && (
        <p id="label-error" className="error-text field-error" role="alert">
          {labelError}
        </p>
      )}
      {teams.error && (
        <p id="teams-error" className="muted field-error">
          Teams could not be loaded: {teams.error.problem.detail ?? teams.error.problem.title}
        </p>
      )}
    </form>
  );
}

const COUNT_ORDER = ['failed', 'running', 'succeeded', 'skipped', 'cancelled', 'pending'] as const;

function RunsTable({ rows, now, later, teams, onLabel }: { rows: RunRow[]; now: number; later: number; teams: Teams; onLabel: (label: string) => void }) {
  return (
    <table className="runs">
      <caption className="sr-only">Runs, newest first</caption>
      <thead>
        <tr>
          <th scope="col">Status</th>
          <th scope="col">Run</th>
          <th scope="col">Nodes</th>
          <th scope="col" className="col-team">
            Team
          </th>
          <th scope="col" className="col-created">
            Created
          </th>
          <th scope="col" className="col-duration">
            Duration
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <RunRowView key={row.id} row={row} now={TERMINAL_RUN.has(row.status) ? later : Math.max(now, later)} team={row.teamId ? (teams.byId.get(row.teamId) ?? (teams.list ? 'Unknown team' : '')) : undefined} onLabel={onLabel} />
        ))}
      </tbody>
    </table>
  );
}

/** One run; an ended run's `now` moves every 15 s only, so that its row does not re-render every second. */
const RunRowView = memo(function RunRowView({ row, now, team, onLabel }: { row: RunRow; now: number; team: string | undefined; onLabel: (label: string) => void }) {
  const counts = countNodes(row);
  const attention = attentionOf(row);
  const labels = Object.entries(row.labels);
  return (
    <tr className={attention ? `attention attention-${attention}` : undefined} data-run-id={row.id} data-status={row.status}>
      <td className="col-status">
        <StatusBadge status={row.status} />
        {attention === 'stalled' && (
          <span className="stalled-note">
            <StatusBadge status="stalled">{counts.stalled > 1 ? `${counts.stalled} stalled` : 'stalled'}</StatusBadge>
          </span>
        )}
      </td>
      <td className="col-run">
        <Link href={`/runs/${row.id}`} className="run-title">
          {row.title}
        </Link>
        {labels.length > 0 && (
          <ul className="labels" aria-label="Labels">
            {labels.map(([key, value]) => (
              <li key={key}>
                <button type="button" className="chip chip-button" title={`Show only runs labelled ${key}:${value}`} onClick={() => onLabel(`${key}:${value}`)}>
                  {key}: {value}
                </button>
              </li>
            ))}
          </ul>
        )}
      </td>
      <td className="col-nodes">
        <div className="counts">
          {COUNT_ORDER.filter((status) => counts[status] > 0).map((status) => (
            <span key={status} className={`count st-${status}`} title={`${counts[status]} ${status}`}>
              <StatusIcon status={status} />
              <span className="count-number">{counts[status]}</span>
              <span className="sr-only"> {status}</span>
            </span>
          ))}
        </div>
        {counts.total > 0 && (
          <div className="progress" aria-hidden="true">
            {(['succeeded', 'failed', 'skipped', 'cancelled', 'running'] as const).map(
              (status) => counts[status] > 0 && <span key={status} className={`segment seg-${status}`} style={{ width: `${(100 * counts[status]) / counts.total}%` }} />,
            )}
          </div>
        )}
        <span className="done muted">
          {counts.done} of {counts.total} done
        </span>
      </td>
      <td className="col-team">{team ?? <span className="muted">—</span>}</td>
      <td className="col-created">
        <time dateTime={row.createdAt} title={formatAbsolute(row.createdAt)}>
          {formatRelative(row.createdAt, now)}
        </time>
      </td>
      <td className="col-duration">
        {row.status === 'pending' ? (
          <span className="muted">not started</span>
        ) : (
          <>
            <span title={row.endedAt ? `From creation to its end, ${formatAbsolute(row.endedAt)}` : 'Since creation, still going'}>{formatDuration((row.endedAt ? Date.parse(row.endedAt) : now) - Date.parse(row.createdAt))}</span>
            {row.endedAt && (
              <span className="ended muted">
                ended{' '}
                <time dateTime={row.endedAt} title={formatAbsolute(row.endedAt)}>
                  {formatRelative(row.endedAt, now)}
                </time>
              </span>
            )}
          </>
        )}
      </td>
    </tr>
  );
});
