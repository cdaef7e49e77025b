import { useContext, useMemo, useState } from 'react';
import { api, ProblemError, TERMINAL_RUN, type Allowed, type Run } from '../api';
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
  filter: NodeFilter | null;
  onFilter: (filter: NodeFilter | null) => void;
}

/** Title, status, started/ended/elapsed, counts by status (each a filter that highlights its nodes), Cancel. */
export function RunHeader({ run, state, live, filter, onFilter }: Props) {
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
        {!TERMINAL_RUN.has(live.status) && <CancelRun runId={run.id} can={run.can?.cancel} />}
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

/**
 * Cancel (API `POST /runs/{id}/cancel`), after a confirmation. `GET /runs/{id}` says whether the policy
 * allows it; when not, the button says why when pressed instead of trying (and adding a denial to the
 * audit log). A policy changed since the page loaded still answers 403, whose reason is shown.
 */
function CancelRun({ runId, can }: { runId: string; can: Allowed | undefined }) {
  const [step, setStep] = useState<'idle' | 'confirm' | 'busy'>('idle');
  const [denied, setDenied] = useState<string>();
  if (!can) return null;
  const refused = can.allowed ? undefined : can.reason;

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
