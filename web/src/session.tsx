import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { api, ProblemError, type Me } from './api';
import { closeLive } from './live';

type SessionState = { status: 'loading' } | { status: 'signed-out' } | { status: 'signed-in'; me: Me } | { status: 'error'; error: ProblemError };

interface Session {
  state: SessionState;
  signIn(email: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  refresh(): void;
}

const SessionContext = createContext<Session | undefined>(undefined);

/** Who is signed in, from `GET /me` (401: nobody). */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<SessionState>({ status: 'loading' });
  const refresh = useCallback(() => {
    api<Me>('/me').then(
      (me) => setState({ status: 'signed-in', me }),
      (error: ProblemError) => setState(error.status === 401 ? { status: 'signed-out' } : { status: 'error', error }),
    );
  }, []);
  useEffect(refresh, [refresh]);
  // The live connection heard that the session expired: ask again, which shows the sign-in form.
  useEffect(() => {
    const expired = () => {
      closeLive();
      refresh();
    };
    window.addEventListener('vitrine:credential-expired', expired);
    return () => window.removeEventListener('vitrine:credential-expired', expired);
  }, [refresh]);
  const signIn = useCallback(async (email: string, password: string) => {
    await api('/auth/login', { method: 'POST', json: { email, password } });
    setState({ status: 'signed-in', me: await api<Me>('/me') });
  }, []);
  const signOut = useCallback(async () => {
    // A session already gone (401) is signed out; any other failure leaves it alive on the server, so say so.
    await api('/auth/logout', { method: 'POST' }).catch((error: unknown) => {
      if (!(error instanceof ProblemError && error.status === 401)) throw error;
    });
    closeLive();
    setState({ status: 'signed-out' });
  }, []);
  return <SessionContext value={{ state, signIn, signOut, refresh }}>{children}</SessionContext>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside SessionProvider');
  return session;
}
