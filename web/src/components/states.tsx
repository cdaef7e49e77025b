import type { ProblemError } from '../api';

/** Loading, empty and error states, the same everywhere. */
export function Loading({ what }: { what: string }) {
  return (
    <p className="state" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: React.ReactNode }) {
  return <p className="state empty">{children}</p>;
}

/** An error shows the problem's `detail` (API.md, Conventions), and its code for a bug report. */
export function ErrorState({ error, retry }: { error: ProblemError | Error; retry?: () => void }) {
  const problem = 'problem' in error ? error.problem : undefined;
  return (
    <div className="state error" role="alert">
      <strong>{problem?.title ?? 'Something went wrong'}</strong>
      <p>{problem?.detail ?? error.message}</p>
      {problem?.code && <p className="muted">code: {problem.code}{problem.requestId ? ` · request ${problem.requestId}` : ''}</p>}
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}
