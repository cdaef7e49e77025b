import { api, type Page } from '../api';

/** API shapes the lists and the artifact page read (API.md: Identity, Artifacts, Sharing). */
export interface Team {
  id: string;
  name: string;
}

export type Classification = 'public' | 'internal' | 'confidential' | 'restricted';

export interface Artifact {
  id: string;
  title: string;
  kind: string;
  runId: string | null;
  teamId: string | null;
  classification: Classification;
  labels: string[];
  ownerId: string;
  private: boolean;
  /** The latest revision; 0 for a run-summary, which is rendered from its run. */
  revision: number;
  containsSecrets: boolean;
  remixedFrom: { artifactId: string; revision: number } | null;
  createdAt: string;
  updatedAt: string;
}

export interface Revision {
  revision: number;
  format: 'html' | 'markdown';
  message: string | null;
  containsSecrets: boolean;
  createdBy: string;
  createdByType: 'user' | 'agent';
  createdAt: string;
}

export interface Share {
  id: string;
  artifactId: string;
  audience: 'link' | 'org' | 'team';
  teamId: string | null;
  revision: number | null;
  expiresAt: string | null;
  url: string | null;
  state: 'valid' | 'revoked' | 'expired';
  createdBy: string;
  createdAt: string;
  revokedAt: string | null;
  revokedReason: string | null;
}

export type CreatedShare = Share & { token: string };

/** Every page of a list, in order (teams: an org has few). */
export async function fetchAll<T>(path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const page: Page<T> = await api<Page<T>>(`${path}${separator}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

const names = new Map<string, Promise<string | undefined>>();

/** A member's display name, asked once per page load; undefined when the caller may not see them. */
export function memberName(id: string): Promise<string | undefined> {
  let name = names.get(id);
  if (!name) {
    name = api<{ name: string }>(`/members/${encodeURIComponent(id)}`).then(
      (member) => member.name,
      () => undefined,
    );
    names.set(id, name);
  }
  return name;
}

/** Forgets the names looked up (sign-out: the next member may see other people). */
export function forgetMembers(): void {
  names.clear();
}
