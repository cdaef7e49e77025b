import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { Link, useLocation, useSearch } from 'wouter';
import { api, ProblemError, type Page, type Run } from '../api';
import { AppHeader } from '../components/AppHeader';
import { ArtifactFrame } from '../components/ArtifactFrame';
import { ConnectionStatus } from '../components/ConnectionStatus';
import { StatusBadge } from '../components/StatusBadge';
import { Empty, ErrorState, Loading } from '../components/states';
import { memberName, type Artifact, type CreatedShare, type Revision, type Share, type Team } from '../lib/resources';
import { formatAbsolute, formatRelative } from '../lib/time';
import { useNow } from '../lib/use-now';
import { live } from '../live';
import '../components/controls.css';
import './artifact-page.css';

const RUN_SUMMARY = 'run-summary';

/** `?revision=n` pins the view to a revision; without it the page follows the latest one live. */
function pinnedRevision(search: string): number | undefined {
  const value = new URLSearchParams(search).get('revision');
  if (!value || !/^[1-9]\d{0,9}$/.test(value)) return undefined;
  return Number(value);
}

/**
 * `/artifacts/{id}`: what the artifact is, its content as rendered (sandboxed, following new revisions
 * live), its revisions, and its share links with a "Share link" action whose denial shows the policy's
 * reason.
 */
export function ArtifactPage({ id }: { id: string }) {
  const search = useSearch();
  const [, navigate] = useLocation();
  const pinned = pinnedRevision(search);
  const [artifact, setArtifact] = useState<Artifact>();
  const [error, setError] = useState<ProblemError>();
  const [attempt, setAttempt] = useState(0);
  /** Moves on every new revision (or run change, for a run-summary): lists re-read, the frame reloads. */
  const [tick, setTick] = useState(0);
  const revisionRef = useRef<number | undefined>(undefined);

  useEffect(() => {
    let current = true;
    setError(undefined);
    api<Artifact>(`/artifacts/${id}`).then(
      (found) => {
        if (!current) return;
        revisionRef.current = found.revision;
        setArtifact(found);
      },
      (failure: ProblemError) => current && setError(failure),
    );
    return () => {
      current = false;
    };
  }, [id, attempt]);

  useEffect(() => {
    const changed = () => {
      setTick((n) => n + 1);
      // containsSecrets and updatedAt follow the new revision.
      api<Artifact>(`/artifacts/${id}`).then(
        (found) => {
          if (found.revision >= (revisionRef.current ?? 0)) {
            revisionRef.current = found.revision;
            setArtifact(found);
          }
        },
        () => undefined,
      );
    };
    return live().watch<Artifact>(
      { artifact: id },
      {
        // Also after a reconnect: a revision written while disconnected shows now.
        onSnapshot: (snapshot) => {
          if (revisionRef.current !== undefined && snapshot.revision > revisionRef.current) changed();
        },
        onRevised: (revision) => {
          if (revision > (revisionRef.current ?? 0)) {
            revisionRef.current = revision;
            setArtifact((held) => (held ? { ...held, revision } : held));
          }
          changed();
        },
      },
    );
  }, [id]);

  const view = useCallback((revision: number | undefined) => navigate(revision === undefined ? `/artifacts/${id}` : `/artifacts/${id}?revision=${revision}`), [id, navigate]);

  if (error) {
    return (
      <>
        <AppHeader>
          <Link href="/">Runs</Link>
          <span aria-current="page">Artifact</span>
        </AppHeader>
        <main id="main" className="artifact-page">
          <ErrorState error={error} retry={() => setAttempt((n) => n + 1)} />
        </main>
      </>
    );
  }
  if (!artifact) {
    return (
      <>
        <AppHeader>
          <Link href="/">Runs</Link>
        </AppHeader>
        <main id="main" className="artifact-page">
          <Loading what="the artifact" />
        </main>
      </>
    );
  }

  const summary = artifact.kind === RUN_SUMMARY;
  const latest = artifact.revision;
  const viewing = summary ? undefined : pinned !== undefined && pinned !== latest ? pinned : latest;
  const following = summary || viewing === latest;
  const src = summary ? `/api/v1/artifacts/${id}/render` : `/api/v1/artifacts/${id}/render?revision=${viewing}`;

  return (
    <>
      <AppHeader>
        <Link href="/">Runs</Link>
        {artifact.runId && <RunCrumb runId={artifact.runId} />}
        <span aria-current="page">{artifact.title}</span>
      </AppHeader>
      <ConnectionStatus client={live()} />
      <main id="main" className="artifact-page">
        <ArtifactHead artifact={artifact} viewing={viewing} following={following} onLatest={() => view(undefined)} />
        <div className="artifact-body">
          <section className="artifact-content" aria-label="Content">
            <ArtifactFrame src={src} title={`${artifact.title}${viewing !== undefined ? `, revision ${viewing}` : ''}`} version={summary ? tick : 0} />
          </section>
          <aside className="artifact-side">
            <Revisions artifactId={id} summary={summary} latest={latest} viewing={viewing} tick={tick} onView={(revision) => view(revision === latest ? undefined : revision)} />
            <Shares artifactId={id} viewing={viewing} tick={tick} />
          </aside>
        </div>
      </main>
    </>
  );
}

function RunCrumb({ runId }: { runId: string }) {
  const [title, setTitle] = useState<string>();
  useEffect(() => {
    let current = true;
    api<Run>(`/runs/${runId}`).then(
      (run) => current && setTitle(run.title),
      () => undefined,
    );
    return () => {
      current = false;
    };
  }, [runId]);
  return <Link href={`/runs/${runId}`}>{title ?? 'Run'}</Link>;
}

function useTeamName(teamId: string | null): string | undefined {
  const [name, setName] = useState<string>();
  useEffect(() => {
    if (!teamId) return;
    let current = true;
    api<Team>(`/teams/${teamId}`).then(
      (team) => current && setName(team.name),
      () => undefined,
    );
    return () => {
      current = false;
    };
  }, [teamId]);
  return teamId ? name : undefined;
}

/** A member's name once known; their id's start until then, or when the caller may not see them. */
function MemberName({ id }: { id: string }) {
  const [name, setName] = useState<string>();
  useEffect(() => {
    let current = true;
    void memberName(id).then((found) => current && setName(found));
    return () => {
      current = false;
    };
  }, [id]);
  return <span title={id}>{name ?? `member ${id.slice(-6)}`}</span>;
}

function ArtifactHead({ artifact, viewing, following, onLatest }: { artifact: Artifact; viewing: number | undefined; following: boolean; onLatest: () => void }) {
  const team = useTeamName(artifact.teamId);
  const now = useNow(true, 30_000);
  const summary = artifact.kind === RUN_SUMMARY;
  return (
    <header className="artifact-head">
      <h1>{artifact.title}</h1>
      <dl className="facts">
        <div>
          <dt>Kind</dt>
          <dd>
            <span className="chip">{artifact.kind}</span>
          </dd>
        </div>
        <div>
          <dt>Classification</dt>
          <dd>
            <span className={`classification cl-${artifact.classification}`}>{artifact.classification}</span>
          </dd>
        </div>
        <div>
          <dt>Revision</dt>
          <dd>
            {summary ? (
              <span className="live-pill">
                <span className="dot" aria-hidden="true" />
                live from its run
              </span>
            ) : following ? (
              <span className="live-pill" title="New revisions show as they are written">
                <span className="dot" aria-hidden="true" />
                {artifact.revision} · live
              </span>
            ) : (
              <span>
                {viewing} of {artifact.revision}
              </span>
            )}
          </dd>
        </div>
        <div>
          <dt>Owner</dt>
          <dd>
            <MemberName id={artifact.ownerId} />
          </dd>
        </div>
        {artifact.teamId && (
          <div>
            <dt>Team</dt>
            <dd>{team ?? 'Unknown team'}</dd>
          </div>
        )}
        {artifact.runId && (
          <div>
            <dt>Run</dt>
            <dd>
              <RunCrumb runId={artifact.runId} />
            </dd>
          </div>
        )}
        <div>
          <dt>Updated</dt>
          <dd>
            <time dateTime={artifact.updatedAt} title={formatAbsolute(artifact.updatedAt)}>
              {formatRelative(artifact.updatedAt, now)}
            </time>
          </dd>
        </div>
      </dl>
      {(artifact.labels.length > 0 || artifact.containsSecrets || artifact.private) && (
        <ul className="tags" aria-label="Labels and flags">
          {artifact.private && (
            <li>
              <span className="chip">private remix</span>
            </li>
          )}
          {artifact.containsSecrets && (
            <li>
              <StatusBadge status="stalled">contains secrets</StatusBadge>
            </li>
          )}
          {artifact.labels.map((label) => (
            <li key={label}>
              <span className="chip">{label}</span>
            </li>
          ))}
        </ul>
      )}
      {!following && (
        <p className="viewing-old" role="status">
          Viewing revision {viewing} of {artifact.revision}; new revisions do not replace it.{' '}
          <button type="button" className="link-button" onClick={onLatest}>
            Show the latest, live ⟶
          </button>
        </p>
      )}
    </header>
  );
}

/** Paged reads that start over whenever `key` changes; `more` fetches the next page. */
function usePaged<T>(path: string, key: unknown) {
  const [state, setState] = useState<{ items: T[]; nextCursor: string | null; error?: ProblemError; loading: boolean }>({ items: [], nextCursor: null, loading: true });
  useEffect(() => {
    let current = true;
    api<Page<T>>(`${path}?limit=20`).then(
      (page) => current && setState({ items: page.items, nextCursor: page.nextCursor, loading: false }),
      (error: ProblemError) => current && setState({ items: [], nextCursor: null, error, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [path, key]);
  const more = useCallback(async () => {
    if (!state.nextCursor) return;
    setState((held) => ({ ...held, loading: true }));
    try {
      const page = await api<Page<T>>(`${path}?limit=20&cursor=${encodeURIComponent(state.nextCursor)}`);
      setState((held) => ({ items: [...held.items, ...page.items], nextCursor: page.nextCursor, loading: false }));
    } catch (error) {
      setState((held) => ({ ...held, error: error as ProblemError, loading: false }));
    }
  }, [path, state.nextCursor]);
  return { ...state, more };
}

function Revisions({ artifactId, summary, latest, viewing, tick, onView }: { artifactId: string; summary: boolean; latest: number; viewing: number | undefined; tick: number; onView: (revision: number) => void }) {
  const revisions = usePaged<Revision>(`/artifacts/${artifactId}/revisions`, summary ? 'summary' : tick);
  const now = useNow(true, 30_000);
  return (
    <section className="side-section" aria-labelledby="revisions-heading">
      <h2 id="revisions-heading">Revisions</h2>
      {summary ? (
        <p className="muted small">A run summary has no stored revisions: it is drawn from its run as the run goes.</p>
      ) : revisions.error ? (
        <ErrorState error={revisions.error} />
      ) : revisions.loading && revisions.items.length === 0 ? (
        <Loading what="revisions" />
      ) : revisions.items.length === 0 ? (
        <Empty>No revisions.</Empty>
      ) : (
        <>
          <ol className="revisions">
            {revisions.items.map((revision) => (
              <li key={revision.revision}>
                <button type="button" className="revision" aria-current={revision.revision === viewing ? 'true' : undefined} onClick={() => onView(revision.revision)}>
                  <span className="revision-line">
                    <strong>Revision {revision.revision}</strong>
                    {revision.revision === latest && <span className="latest">latest</span>}
                    {revision.containsSecrets && <StatusBadge status="stalled">secrets</StatusBadge>}
                  </span>
                  {revision.message && <span className="revision-message">{revision.message}</span>}
                  <span className="revision-meta muted">
                    {revision.createdByType === 'agent' ? 'its run’s reporter' : <MemberName id={revision.createdBy} />} ·{' '}
                    <time dateTime={revision.createdAt} title={formatAbsolute(revision.createdAt)}>
                      {formatRelative(revision.createdAt, now)}
                    </time>
                  </span>
                </button>
              </li>
            ))}
          </ol>
          {revisions.nextCursor && (
            <button type="button" onClick={revisions.more} disabled={revisions.loading}>
              {revisions.loading ? 'Loading…' : 'Older revisions'}
            </button>
          )}
        </>
      )}
    </section>
  );
}

const EXPIRIES: [string, number][] = [
  ['1 hour', 3_600],
  ['1 day', 86_400],
  ['7 days', 604_800],
  ['30 days', 2_592_000],
];

function Shares({ artifactId, viewing, tick }: { artifactId: string; viewing: number | undefined; tick: number }) {
  const [changed, setChanged] = useState(0);
  const shares = usePaged<Share>(`/artifacts/${artifactId}/shares`, `${tick}.${changed}`);
  const [created, setCreated] = useState<CreatedShare>();
  const [denied, setDenied] = useState<ProblemError>();
  const [busy, setBusy] = useState(false);
  const now = useNow(true, 30_000);

  async function share(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const pin = form.get('pin') === 'on' && viewing !== undefined;
    setBusy(true);
    setDenied(undefined);
    setCreated(undefined);
    try {
      const made = await api<CreatedShare>(`/artifacts/${artifactId}/shares`, {
        method: 'POST',
        json: { audience: 'link', expiresInSeconds: Number(form.get('expires')), ...(pin ? { revision: viewing } : {}) },
      });
      setCreated(made);
      setChanged((n) => n + 1);
    } catch (error) {
      setDenied(error instanceof ProblemError ? error : new ProblemError({ title: 'Sharing failed', status: 0, detail: String(error) }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="side-section" aria-labelledby="shares-heading">
      <h2 id="shares-heading">Share links</h2>
      <form className="share-form" onSubmit={share} aria-label="Share by link">
        <label>
          <span>Expires in</span>
          <select name="expires" defaultValue="604800">
            {EXPIRIES.map(([label, seconds]) => (
              <option key={seconds} value={seconds}>
                {label}
              </option>
            ))}
          </select>
        </label>
        {viewing !== undefined && (
          <label className="check">
            <input type="checkbox" name="pin" />
            <span>Pin to revision {viewing} (otherwise the link follows new revisions)</span>
          </label>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Sharing…' : 'Share link'}
        </button>
      </form>
      {denied && <ShareDenied error={denied} />}
      {created?.url && <CreatedLink url={created.url} />}
      {shares.error ? (
        <p className="muted small">{shares.error.problem.detail ?? shares.error.problem.title}</p>
      ) : shares.loading && shares.items.length === 0 ? (
        <Loading what="share links" />
      ) : shares.items.length === 0 ? (
        <p className="muted small">Not shared yet.</p>
      ) : (
        <>
          <ul className="shares">
            {shares.items.map((item) => (
              <ShareItem key={item.id} share={item} now={now} onRevoked={() => setChanged((n) => n + 1)} />
            ))}
          </ul>
          {shares.nextCursor && (
            <button type="button" onClick={shares.more} disabled={shares.loading}>
              More links
            </button>
          )}
        </>
      )}
    </section>
  );
}

/** A denial shows the policy's reason (403 policy_denied's `detail`) and the rule that decided it. */
function ShareDenied({ error }: { error: ProblemError }) {
  const { problem } = error;
  return (
    <div className="share-denied" role="alert">
      <strong>{problem.code === 'policy_denied' ? 'Policy does not allow this link' : problem.title}</strong>
      <p>{problem.detail ?? problem.title}</p>
      {problem.policy && (
        <p className="muted small">
          {problem.policy.ruleId ? `Rule ${problem.policy.ruleId}` : 'No rule allows it'} · policy version {problem.policy.version}
        </p>
      )}
    </div>
  );
}

function CreatedLink({ url }: { url: string }) {
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<string>();
  async function copy() {
    input.current?.select();
    try {
      await navigator.clipboard.writeText(url);
      setCopied('Copied to the clipboard');
    } catch {
      // No clipboard (a plain-http page on another host): the URL is selected for the person to copy.
      setCopied('Selected: press Ctrl+C (⌘C) to copy');
    }
  }
  return (
    <div className="created-link">
      <label>
        <span>New link — shown only now; copy it</span>
        <span className="with-button">
          <input ref={input} type="text" readOnly value={url} onFocus={(e) => e.currentTarget.select()} spellCheck={false} />
          <button type="button" onClick={copy}>
            Copy
          </button>
        </span>
      </label>
      <p className="muted small" role="status">
        {copied}
      </p>
    </div>
  );
}

function ShareItem({ share, now, onRevoked }: { share: Share; now: number; onRevoked: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ProblemError>();
  async function revoke() {
    setBusy(true);
    setError(undefined);
    try {
      await api(`/shares/${share.id}`, { method: 'DELETE' });
      onRevoked();
    } catch (failure) {
      setError(failure as ProblemError);
      setBusy(false);
    }
  }
  const audience = share.audience === 'link' ? 'Link' : share.audience === 'org' ? 'Org' : 'Team';
  return (
    <li className={`share share-${share.state}`}>
      <div className="share-line">
        <strong>{audience}</strong>
        <span className={`share-state state-${share.state}`}>{share.state}</span>
        <span className="muted">{share.revision === null ? 'follows latest' : `revision ${share.revision}`}</span>
      </div>
      <div className="share-meta muted small">
        <MemberName id={share.createdBy} /> ·{' '}
        <time dateTime={share.createdAt} title={formatAbsolute(share.createdAt)}>
          {formatRelative(share.createdAt, now)}
        </time>
        {share.state === 'valid' && share.expiresAt && (
          <>
            {' '}
            · expires{' '}
            <time dateTime={share.expiresAt} title={formatAbsolute(share.expiresAt)}>
              {formatRelative(share.expiresAt, now)}
            </time>
          </>
        )}
        {share.state === 'valid' && !share.expiresAt && ' · never expires'}
      </div>
      {share.revokedReason && <p className="small revoked-reason">{share.revokedReason}</p>}
      {share.state === 'valid' && (
        <button type="button" className="revoke" onClick={revoke} disabled={busy} aria-label={`Revoke the ${audience.toLowerCase()} share made ${formatRelative(share.createdAt, now)}`}>
          {busy ? 'Revoking…' : 'Revoke'}
        </button>
      )}
      {error && (
        <p className="error-text small" role="alert">
          {error.problem.detail ?? error.problem.title}
        </p>
      )}
    </li>
  );
}
