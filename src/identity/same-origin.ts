import type { IncomingHttpHeaders } from 'node:http';

/**
 * Cookies ride along on cross-site requests (and WebSocket handshakes), so
 * whatever a cookie authenticates beyond a plain read must prove it comes
 * from this origin: the service's own, or VITRINE_PUBLIC_URL's.
 */
export function isSameOrigin(headers: IncomingHttpHeaders, protocol: 'http' | 'https', publicUrl: string | undefined): boolean {
  const fetchSite = headers['sec-fetch-site'];
  if (fetchSite === 'same-origin') return true;
  if (fetchSite === 'cross-site' || fetchSite === 'same-site') return false;
  const source = headers.origin ?? headers.referer;
  if (!source || source === 'null') return false;
  let origin: string;
  try {
    origin = new URL(source).origin;
  } catch {
    return false;
  }
  const allowed = new Set([`${protocol}://${headers.host}`]);
  if (publicUrl) allowed.add(new URL(publicUrl).origin);
  return allowed.has(origin);
}
