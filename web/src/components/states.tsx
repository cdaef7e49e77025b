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
export function ErrorState({ error, retry, title }: { error: ProblemError | (Error & { code?: string }); retry?: () => void; title?: string }) {
  const problem = 'problem' in error ? error.problem : undefined;
  const code = problem?.code ?? ('code' in error ? error.code : undefined);
  return (
    <div className="state error" role="alert">
      <strong>{title ?? problem?.title ?? 'Something went wrong'}</strong>
      <p>{problem?.detail ?? error.message}</p>
      {code && <p className="muted">code: {code}{problem?.requestId ? ` · request ${problem.requestId}` : ''}</p>}
      {retry && (
        <button type="button" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}
