// The share viewer's state logic, free of the DOM so Jest runs it as it is.

/** Why a link shows nothing: unknown (or not for this visitor), revoked, or past its expiry. */
export type Gone = 'not_found' | 'revoked' | 'expired';

export interface ShareInfo {
  id: string;
  audience: 'link' | 'org' | 'team';
  /** Pinned revision; null: the link follows the live artifact. */
  revision: number | null;
  expiresAt: string | null;
}

/** What the server put in the viewer page (`<meta name="vitrine-share">`) when it counted this view. */
export type ShareMeta =
  | {
      state: 'valid';
      token: string;
      now: string;
      share: ShareInfo;
      artifact: { title: string; kind: string; revision: number };
      sharedBy: string | null;
      ticket: string;
    }
  | { state: Gone; token: string; now: string };

export type ValidShareMeta = Extract<ShareMeta, { state: 'valid' }>;

const STATES = new Set(['valid', 'not_found', 'revoked', 'expired']);

/** The meta's data, if it is there and is about this link (the app may have navigated here on its own). */
export function parseShareMeta(content: string | null | undefined, token: string): ShareMeta | undefined {
  if (!content) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(content);
  } catch {
    return undefined;
  }
  if (typeof data !== 'object' || data === null) return undefined;
  const meta = data as ShareMeta;
  if (meta.token !== token || !STATES.has(meta.state) || typeof meta.now !== 'string') return undefined;
  if (meta.state === 'valid' && (typeof meta.share !== 'object' || typeof meta.artifact !== 'object' || typeof meta.ticket !== 'string')) return undefined;
  return meta;
}

/** The problem or live error codes that mean the link shows nothing any more. */
export function goneOf(code: string | undefined): Gone | undefined {
  if (code === 'share_revoked') return 'revoked';
  if (code === 'share_expired') return 'expired';
  if (code === 'not_found') return 'not_found';
  return undefined;
}

/**
 * The frames: the revision on screen, and a newer one loading behind it. A new
 * revision replaces what is on screen only once it has loaded, so nothing flickers;
 * one that arrives while another loads takes its place.
 */
export interface Frames {
  shown: number;
  loading: number | null;
}

export type FrameAction = { type: 'revised'; revision: number } | { type: 'loaded'; revision: number };

export function framesReducer(state: Frames, action: FrameAction): Frames {
  if (action.type === 'revised') {
    const newest = Math.max(state.shown, state.loading ?? 0);
    return action.revision > newest ? { ...state, loading: action.revision } : state;
  }
  return action.revision === state.loading ? { shown: action.revision, loading: null } : state;
}

/**
 * The frame's URL: the link's content with the page's ticket (its view is counted already), and the
 * revision, which gives each its own URL; a run-summary has none (revision 0: rendered from its run).
 */
export function contentUrl(token: string, revision: number, ticket: string): string {
  const query = new URLSearchParams(revision > 0 ? { revision: String(revision), ticket } : { ticket });
  return `/s/${encodeURIComponent(token)}/content?${query}`;
}

const KINDS: Record<string, string> = {
  'pr-walkthrough': 'PR walkthrough',
  explainer: 'Explainer',
  dashboard: 'Dashboard',
  'release-checklist': 'Release checklist',
  incident: 'Incident',
  'run-summary': 'Run summary',
};

/** An artifact's kind as words: the kinds the page knows by name, any other with its dashes as spaces. */
export function kindLabel(kind: string): string {
  const known = KINDS[kind];
  if (known) return known;
  const words = kind.replace(/[-_]+/g, ' ').trim();
  return words ? words[0]!.toUpperCase() + words.slice(1) : 'Artifact';
}

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'always' });

/** "expires in 3 days" and so on, to the unit that reads best; "expired" once past. */
export function expiryText(expiresAt: number, now: number): string {
  const seconds = Math.ceil((expiresAt - now) / 1000);
  if (seconds <= 0) return 'expired';
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['day', 86_400],
    ['hour', 3_600],
    ['minute', 60],
  ];
  for (const [unit, size] of units) {
    // At least two of a unit, so rounding down never drops nearly half ("in 47 hours", not "in 1 day").
    if (seconds >= 2 * size) return `expires ${relative.format(Math.floor(seconds / size), unit)}`;
  }
  return `expires ${relative.format(seconds, 'second')}`;
}

/** How soon the expiry text may change: every second in its last two minutes, else every 30 s. */
export function expiryTick(expiresAt: number, now: number): number {
  return expiresAt - now <= 120_000 ? 1_000 : 30_000;
}

/** Longest wait setTimeout keeps (about 24.8 days); a longer one would fire at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Calls `fire` at `at` (ms since the epoch, this clock), in steps setTimeout can hold. Returns the cancel. */
export function callAt(at: number, fire: () => void, now: () => number = Date.now): () => void {
  let timer: ReturnType<typeof setTimeout>;
  const arm = () => {
    const wait = at - now();
    timer = setTimeout(() => (wait > MAX_TIMEOUT_MS ? arm() : fire()), Math.max(0, Math.min(wait, MAX_TIMEOUT_MS)));
  };
  arm();
  return () => clearTimeout(timer);
}
