import { Children, Fragment, useState, type ReactNode } from 'react';
import { Link, useLocation } from 'wouter';
import { ProblemError } from '../api';
import { forgetMembers } from '../lib/resources';
import { useSession } from '../session';
import './app-header.css';

function Logo() {
  return (
    <svg width="20" height="20" viewBox="0 0 20 20" aria-hidden="true" focusable="false" className="brand-mark">
      <rect x="1.5" y="3" width="17" height="14" rx="3" fill="none" stroke="currentColor" strokeWidth="1.8" />
      <path d="M5.5 13l3-4 2.5 3 1.5-2 2 3" fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  );
}

/**
 * The bar above every signed-in page: Vitrine (home: the runs list), where you are (`children`: a
 * breadcrumb trail, one element per step, the current one `aria-current="page"`), who is signed in, and Sign out, which ends the session and shows the sign-in form.
 * Pages put their content in `<main id="main">`, which the skip link jumps to.
 */
export function AppHeader({ children }: { children?: ReactNode }) {
  const { state, signOut } = useSession();
  const [, navigate] = useLocation();
  const [leaving, setLeaving] = useState(false);
  const [failed, setFailed] = useState<string>();
  const me = state.status === 'signed-in' ? state.me : undefined;
  async function leave() {
    setLeaving(true);
    setFailed(undefined);
    try {
      await signOut();
    } catch (error) {
      setFailed(`Not signed out: ${error instanceof ProblemError ? (error.problem.detail ?? error.problem.title) : String(error)}`);
      setLeaving(false);
      return;
    }
    forgetMembers();
    navigate('/');
  }
  return (
    <header className="app-header">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <Link href="/" className="brand">
        <Logo />
        Vitrine
      </Link>
      {children && (
        <nav aria-label="Breadcrumb" className="crumbs">
          {Children.toArray(children).map((crumb, i) => (
            <Fragment key={i}>
              {i > 0 && (
                <span className="crumb-separator" aria-hidden="true">
                  /
                </span>
              )}
              {crumb}
            </Fragment>
          ))}
        </nav>
      )}
      <div className="who">
        {me && (
          <span className="member" title={`${me.email} · ${me.role}`}>
            <span className="sr-only">Signed in as </span>
            {me.name}
          </span>
        )}
        {failed && (
          <span role="alert" className="error-text">
            {failed}
          </span>
        )}
        <button type="button" className="sign-out" onClick={leave} disabled={leaving}>
          {leaving ? 'Signing out…' : 'Sign out'}
        </button>
      </div>
    </header>
  );
}
