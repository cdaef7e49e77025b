/** What `GET /s/{token}` told the viewer page, from its `<meta name="vitrine-share">`; undefined when the page has none. */
export function sharePageMeta(html: string): Record<string, unknown> | undefined {
  const match = /<meta name="vitrine-share" content="([^"]*)">/.exec(html);
  if (!match) return undefined;
  return JSON.parse(match[1]!.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))));
}

/** The viewer page's frame URL, as the page builds it. */
export function contentPath(token: string, query: { revision?: number; ticket?: string } = {}): string {
  const params = new URLSearchParams(Object.entries(query).map(([key, value]): [string, string] => [key, String(value)]));
  return `/s/${token}/content${params.size ? `?${params}` : ''}`;
}
