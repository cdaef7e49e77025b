import { useEffect, useReducer, useRef, useState } from 'react';
import { ConnectionStatus } from '../components/ConnectionStatus';
import { ErrorState, Loading } from '../components/states';
import { LiveClient, type ShareSnapshot } from '../live';
import {
  callAt,
  contentUrl,
  expiryText,
  expiryTick,
  framesReducer,
  goneOf,
  kindLabel,
  parseShareMeta,
  type Gone,
  type ShareMeta,
  type ValidShareMeta,
} from './share-viewer-state';
import './share-viewer.css';

function readMeta(token: string): ShareMeta | undefined {
  return parseShareMeta(document.querySelector('meta[name="vitrine-share"]')?.getAttribute('content'), token);
}

/** Whether this document was loaded from the server at this very URL (not reached by the app's own navigation). */
function loadedHere(): boolean {
  const [navigation] = performance.getEntriesByType('navigation');
  return navigation?.name === window.location.href;
}

/**
 * `/s/{token}`: a shared artifact, no account needed. The server counted this view and told the page what
 * the link serves; the artifact fills the page in a sandboxed frame, under a slim bar saying what it is.
 */
export function ShareViewer({ token }: { token: string }) {
  const [meta] = useState(() => readMeta(token));
  const stray = meta === undefined && !loadedHere();
  useEffect(() => {
    // Reached by the app's own navigation: load it from the server, which counts the view and says what the link serves.
    if (stray) window.location.reload();
  }, [stray]);
  if (stray) return <Loading what="the shared page" />;
  if (meta === undefined) return <ErrorState error={new Error('This page did not say what the link shares. Reload it to try again.')} />;
  if (meta.state !== 'valid') return <GoneNotice gone={meta.state} />;
  return <SharedArtifact meta={meta} />;
}

function SharedArtifact({ meta }: { meta: ValidShareMeta }) {
  const { token, share, ticket } = meta;
  const [gone, setGone] = useState<Gone | null>(null);
  const [artifact, setArtifact] = useState({ title: meta.artifact.title, kind: meta.artifact.kind });
  // A run-summary is rendered from its run (revision 0 always): its frames are counted by the notices of its run's changes instead.
  const summary = meta.artifact.kind === 'run-summary';
  const notices = useRef(0);
  const [frames, dispatch] = useReducer(framesReducer, { shown: summary ? 0 : meta.artifact.revision, loading: null });
  const [client, setClient] = useState<LiveClient | null>(null);
  // Once the server has answered the subscription: from then on a revision or revocation reaches this page.
  const [watching, setWatching] = useState(false);
  // The server's clock less this one's, so the expiry is kept by the server's clock.
  const [skew] = useState(() => Date.parse(meta.now) - Date.now());
  const expiresAt = share.expiresAt === null ? null : Date.parse(share.expiresAt) - skew;

  useEffect(() => {
    // A link's token is its viewer's credential; an org or team share is watched as the signed-in member.
    const live = share.audience === 'link' ? new LiveClient({ token }) : new LiveClient();
    setClient(live);
    const end = (why: Gone) => {
      setGone(why);
      live.close();
    };
    const refused = (error: Error) => {
      const why = goneOf((error as Error & { data?: { code?: string } }).data?.code);
      if (why) end(why);
    };
    live.socket.on('connect_error', refused);
    let subscribed = false;
    const stop = live.watch<ShareSnapshot>(
      { share: token },
      {
        onSnapshot: (snapshot) => {
          setWatching(true);
          setArtifact({ title: snapshot.artifact.title, kind: snapshot.artifact.kind });
          // After a reconnect: a revision made meanwhile (a summary's run may have changed meanwhile too).
          if (summary) {
            if (subscribed) dispatch({ type: 'revised', revision: ++notices.current });
          } else if (share.revision === null) dispatch({ type: 'revised', revision: snapshot.artifact.revision });
          subscribed = true;
        },
        onRevised: (revision) => dispatch({ type: 'revised', revision: summary ? ++notices.current : revision }),
        onRevoked: end,
        onError: (error) => {
          const why = goneOf(error.code);
          if (why) end(why);
        },
      },
    );
    return () => {
      stop();
      live.socket.off('connect_error', refused);
      live.close();
    };
  }, [token, share.audience, share.revision, summary]);

  // The server cuts the link's viewers at its expiry; this says so too while the connection is down.
  useEffect(() => (expiresAt === null || gone ? undefined : callAt(expiresAt, () => setGone('expired'))), [expiresAt, gone]);
  useEffect(() => {
    if (gone) client?.close();
  }, [gone, client]);

  useEffect(() => {
    document.title = gone ? 'Vitrine' : `${artifact.title} · Vitrine`;
  }, [artifact.title, gone]);

  if (gone) return <GoneNotice gone={gone} />;
  const revisions = frames.loading === null ? [frames.shown] : [frames.shown, frames.loading];
  return (
    <div className="share-viewer" data-watching={watching || undefined}>
      <header className="share-bar">
        <div className="share-what">
          <h1 className="share-title" title={artifact.title}>
            {artifact.title}
          </h1>
          <span className="share-kind">{kindLabel(artifact.kind)}</span>
          {meta.sharedBy && <span className="share-by">shared by {meta.sharedBy}</span>}
        </div>
        <div className="share-about">
          {share.revision === null ? (
            <span className="share-live" title="This link follows the artifact: new revisions appear here as they are made">
              <span className="share-live-dot" aria-hidden="true" />
              Live
              <span className="share-revision">{summary ? '· follows its run' : `· revision ${frames.shown}`}</span>
            </span>
          ) : (
            <span className="share-pinned" title="This link shows one revision, which does not change">
              <PinIcon />
              Revision {share.revision}
            </span>
          )}
          {expiresAt !== null && <Expiry at={expiresAt} />}
        </div>
      </header>
      {client && <ConnectionStatus client={client} />}
      <main className="share-stage">
        {revisions.map((revision) => {
          const behind = revision !== frames.shown;
          return (
            <iframe
              key={revision}
              className={behind ? 'share-frame behind' : 'share-frame'}
              src={contentUrl(token, summary ? 0 : revision, ticket)}
              title={artifact.title}
              sandbox="allow-scripts"
              data-revision={revision}
              aria-hidden={behind || undefined}
              tabIndex={behind ? -1 : undefined}
              onLoad={() => dispatch({ type: 'loaded', revision })}
            />
          );
        })}
      </main>
    </div>
  );
}

function Expiry({ at }: { at: number }) {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setTimeout(() => setNow(Date.now()), expiryTick(at, now));
    return () => clearTimeout(timer);
  }, [at, now]);
  const when = new Date(at);
  return (
    <time className="share-expiry" dateTime={when.toISOString()} title={`Expires ${when.toLocaleString()}`}>
      {expiryText(at, now)}
    </time>
  );
}

const GONE: Record<Gone, { title: string; text: string }> = {
  revoked: { title: 'This link was revoked', text: 'Whoever shared it has withdrawn it, or a policy no longer allows it. Ask them for a new link.' },
  expired: { title: 'This link has expired', text: 'Links are shared for a set time. Ask whoever shared it for a new link.' },
  not_found: {
    title: 'This link was not found',
    text: 'Check that it was copied whole. A link shared with an organisation or a team opens only for its members once they are signed in.',
  },
};

function GoneNotice({ gone }: { gone: Gone }) {
  const { title, text } = GONE[gone];
  return (
    <main className="share-gone">
      <div className="share-gone-card" role="alert" data-state={gone}>
        <GoneIcon gone={gone} />
        <h1>{title}</h1>
        <p>{text}</p>
        {gone === 'not_found' && <a href="/">Sign in to Vitrine</a>}
      </div>
    </main>
  );
}

function PinIcon() {
  return (
    <svg className="share-icon" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
      <path d="M9.5 1.5 14.5 6.5 12 7.5 9.5 10 9 13.5 2.5 7 6 6.5 8.5 4Z M5 11 1.5 14.5" fill="none" stroke="currentColor" strokeWidth="1.4" strokeLinejoin="round" strokeLinecap="round" />
    </svg>
  );
}

function GoneIcon({ gone }: { gone: Gone }) {
  const common = { fill: 'none', stroke: 'currentColor', strokeWidth: 1.6, strokeLinecap: 'round', strokeLinejoin: 'round' } as const;
  return (
    <svg className="share-gone-icon" viewBox="0 0 24 24" width="40" height="40" aria-hidden="true">
      {gone === 'revoked' && (
        <>
          <circle cx="12" cy="12" r="9" {...common} />
          <path d="M5.6 5.6 18.4 18.4" {...common} />
        </>
      )}
      {gone === 'expired' && (
        <>
          <circle cx="12" cy="12" r="9" {...common} />
          <path d="M12 7v5l3 2" {...common} />
        </>
      )}
      {gone === 'not_found' && (
        <>
          <path d="M10 14a4 4 0 0 1 0-5.7l2.3-2.3a4 4 0 0 1 5.7 5.7l-1.2 1.2" {...common} />
          <path d="M14 10a4 4 0 0 1 0 5.7l-2.3 2.3a4 4 0 0 1-5.7-5.7l1.2-1.2" {...common} />
          <path d="M4 4l16 16" {...common} />
        </>
      )}
    </svg>
  );
}
