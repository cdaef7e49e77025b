import { Route, Switch } from 'wouter';
import { SessionProvider } from './session';
import { Home } from './pages/Home';
import { ArtifactPage } from './pages/ArtifactPage';
import { ShareViewer } from './pages/ShareViewer';
import { NotFound } from './pages/NotFound';
import { RunPage } from './run/RunPage';
import { SignedIn } from './pages/SignedIn';

/** Routes are real URLs (API.md, The page): the service answers each with this app. */
export function App() {
  return (
    <Switch>
      <Route path="/s/:token">{(params) => <ShareViewer token={params.token} />}</Route>
      <Route>
        <SessionProvider>
          <Switch>
            <Route path="/">
              <Home />
            </Route>
            <Route path="/runs/:id">
              {(params) => (
                <SignedIn>
                  <RunPage id={params.id} />
                </SignedIn>
              )}
            </Route>
            <Route path="/artifacts/:id">
              {(params) => (
                <SignedIn>
                  <ArtifactPage id={params.id} />
                </SignedIn>
              )}
            </Route>
            <Route>
              <NotFound />
            </Route>
          </Switch>
        </SessionProvider>
      </Route>
    </Switch>
  );
}
