import { SignedIn } from './SignedIn';
import { RunsList } from './RunsList';

export function Home() {
  return (
    <SignedIn>
      <RunsList />
    </SignedIn>
  );
}
