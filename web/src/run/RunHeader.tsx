import { useContext, useEffect, useMemo, useState } from 'react';
import { api, ProblemError, TERMINAL_RUN, type Me, type Run } from '../api';
import { Fact, Moment } from '../components/Fact';
import { StatusBadge } from '../components/StatusBadge';
import { formatAbsolute, formatDuration } from '../lib/time';
import { useClock } from '../lib/use-now';
import { AsOf, type NodeFilter } from './RunGraph';
import { countStatuses, startedAt as firstStart, type RunFold } from './run-state';

const FILTERS: NodeFilter[] = ['running', 'stalled', 'failed', 'pending', 'succeeded', 'skipped', 'cancelled'];

interface Props {
  run: Run;
  state: RunFold;
  /** The live state: Cancel acts on the run as it is, not as it was at a scrubbed seq. */
  live: RunFold;
  me: Me | undefined;
  filter: NodeFilter | null;
  onFilter: (filter: NodeFilter | null) => void;
}

/** Title, status, started/ended/elapsed, counts by status (each a filter that highlights its nodes), Cancel. */
export function RunHeader({ run, state, live, me, filter, onFilter }: Props) {
  const started = firstStart(state.nodes);
  const ended = TERMINAL_RUN.has(state.status) ? state.endedAt : null;
  const asOf = useContext(AsOf);
  const clock = useClock(asOf === undefined && started !== null && ended === null && state.status === 'running');
  const now = asOf ?? clock;
  const counts = countStatuses(state.nodes);
  // The parts that change only now and then are made again only then, not on every event batch
  // (countsKey stands for the counts, a new object each render).
  const countsKey = FILTERS.map((f) => counts[f]).join();
  const countButtons = useMemo(
    () =>
      FILTERS.filter((f) => counts[f] > 0).map((f) => (
        <button key={f} type="button" className="count-filter" aria-pressed={filter === f} onClick={() => onFilter(filter === f ? null : f)} data-filter={f}>
          <StatusBadge status={f}>
            <span className="count">{counts[f].toLocaleString('en')}</span> {f}
          </StatusBadge>
        </button>
      )),
    [countsKey, filter, onFilter],
  );
  const startedText = useMemo(() => started && formatAbsolute(started), [started]);
  const endedText = useMemo(() => ended && formatAbsolute(ended), [ended]);
  return (
    <header className="run-head">
      <div className="run-title-line">
        <h1>{run.title}</h1>
        <span className="run-status" data-run-status={state.status}>
          <StatusBadge status={state.status} />
        </span>
        {!TERMINAL_RUN.has(live.status) && <CancelRun runId={run.id} me={me} />}
      </div>
      <dl className="facts">
        <Fact term="Started">{started && startedText ? <Moment at={started} text={startedText} /> : 'not yet'}</Fact>
        {ended && endedText && (
          <Fact term="Ended">
            <Moment at={ended} text={endedText} />
          </Fact>
        )}
        <Fact term="Elapsed" className="tabular">
          {started ? formatDuration((ended ? Date.parse(ended) : now) - Date.parse(started)) : '—'}
        </Fact>
        <Fact term="Nodes">{state.nodes.size.toLocaleString('en')}</Fact>
      </dl>
      <div className="counts" role="group" aria-label="Highlight nodes by status">
        {countButtons}
        {filter && (
          <button type="button" className="link-button clear-filter" onClick={() => onFilter(null)}>
            Clear highlight
          </button>
        )}
      </div>
    </header>
  );
}

/** What the policy says of cancelling, when the page may ask it; `unknown` when it may not. */
type CancelAllowed = { allowed: boolean; reason: string } | 'unknown';

/** Roles the default bundle lets read the policy (and so ask `explain`). */
const EXPLAINERS = new Set<Me['role']>(['admin', 'auditor']);

/**
 * Cancel (API `POST /runs/{id}/cancel`, action `update` on the run), after a confirmation. Admins and
 * auditors ask `POST /policies/explain` first and see why not before trying; others may not ask it (a
 * denied explain would only add a denial to the audit log), so members see Cancel and a denial shows
 * the policy's reason.
 */
function CancelRun({ runId, me }: { runId: string; me: Me | undefined }) {
  const [allowed, setAllowed] = useState<CancelAllowed>('unknown');
  const [step, setStep] = useState<'idle' | 'confirm' | 'busy'>('idle');
  const [denied, setDenied] = useState<string>();
  useEffect(() => {
    if (!me || !EXPLAINERS.has(me.role)) return;
    let current = true;
    api<{ allowed: boolean; reason: string }>('/policies/explain', { method: 'POST', json: { action: 'update', resource: { type: 'Run', id: runId } } }).then(
      (answer) => current && setAllowed({ allowed: answer.allowed, reason: answer.reason }),
      () => undefined,
    );
    return () => {
      current = false;
    };
  }, [me, runId]);

  if (!me) return null;
  if (allowed === 'unknown' && me.role !== 'admin' && me.role !== 'member') return null;
  const refused = allowed !== 'unknown' && !allowed.allowed ? allowed.reason : undefined;

  async function cancel() {
    setStep('busy');
    setDenied(undefined);
    try {
      await api(`/runs/${runId}/cancel`, { method: 'POST' });
    } catch (error) {
      setDenied(error instanceof ProblemError ? (error.problem.detail ?? error.problem.title) : String(error));
    }
    setStep('idle');
  }

  return (
    <div className="cancel-run">
      {step === 'confirm' ? (
        <span className="confirm" role="group" aria-label="Confirm cancel">
          <span>Cancel this run? Its unfinished nodes end cancelled.</span>
          <button type="button" className="danger" onClick={cancel} autoFocus>
            Yes, cancel the run
          </button>
          <button type="button" onClick={() => setStep('idle')}>
            Keep it running
          </button>
        </span>
      ) : (
        <button
          type="button"
          className="cancel-button"
          aria-disabled={refused ? true : undefined}
          title={refused ? `You may not cancel this run: ${refused}` : undefined}
          disabled={step === 'busy'}
          onClick={() => (refused ? setDenied(refused) : setStep('confirm'))}
        >
          {step === 'busy' ? 'Cancelling…' : 'Cancel run'}
        </button>
      )}
      {denied && (
        <p className="cancel-denied" role="alert">
          <strong>Not cancelled:</strong> {denied}
        </p>
      )}
    </div>
  );
}
