import { useState, type FormEvent } from 'react';
import { ProblemError } from '../api';
import { useSession } from '../session';

/** Sign-in (API.md hooks: an email and a password input; Enter submits). */
export function SignIn() {
  const { signIn } = useSession();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError(undefined);
    try {
      await signIn(String(form.get('email')), String(form.get('password')));
    } catch (e) {
      setError(e instanceof ProblemError ? (e.problem.detail ?? e.problem.title) : String(e));
      setBusy(false);
    }
  }
  return (
    <main className="sign-in">
      <h1>Vitrine</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label>
          Email
          <input type="email" name="email" autoComplete="username" required autoFocus />
        </label>
        <label>
          Password
          <input type="password" name="password" autoComplete="current-password" required />
        </label>
        {error && (
          <p role="alert" className="error-text">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
