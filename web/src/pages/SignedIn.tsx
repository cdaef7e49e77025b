import type { ReactNode } from 'react';
import { useSession } from '../session';
import { ErrorState, Loading } from '../components/states';
import { SignIn } from './SignIn';

/** A page for members: the sign-in form until someone is signed in (the URL stays, so a deep link lands). */
export function SignedIn({ children }: { children: ReactNode }) {
  const { state, refresh } = useSession();
  if (state.status === 'loading') return <Loading what="your session" />;
  if (state.status === 'error') return <ErrorState error={state.error} retry={refresh} />;
  if (state.status === 'signed-out') return <SignIn />;
  return <>{children}</>;
}
