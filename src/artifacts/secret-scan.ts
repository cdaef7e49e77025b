/**
 * Secret scanning for artifact content. An artifact whose content contains a
 * secret must not be published by link, so every content revision (HTML or
 * Markdown, up to 5 MiB) goes through `findSecrets`.
 *
 * The rules follow the spirit of gitleaks' default rules: a specific pattern
 * per credential format, then a generic "secret-looking name assigned a
 * high-entropy value" rule, and a rule for URLs that carry a password.
 *
 * Linear time: the content is written by agents, and could be written to make
 * a regex backtrack. Every quantifier here is bounded; no group that repeats
 * contains another quantifier that could split the same text two ways except
 * within a small bound; and rules whose token runs may be long start with a
 * lookbehind that only lets a match begin at the start of a run, so one run
 * is scanned once rather than once per position inside it. Checks a regex
 * cannot make cheaply (entropy, placeholders, what follows a value) are made
 * in code on the (bounded) matched text.
 *
 * A finding names the rule and the line, never the secret itself.
 */

export interface SecretFinding {
  /** The rule that matched, e.g. `github-token`. */
  rule: string;
  /** 1-based line on which the match starts. */
  line: number;
}

interface Rule {
  id: string;
  /**
   * Global regex. Its `secret` group (the whole match when it has none) is
   * the part `accept` judges; `accept` defaults to entropy >= 3 bits/char,
   * which drops placeholders such as `ghp_xxxx…`.
   */
  pattern: RegExp;
  accept?: (match: RegExpExecArray, text: string) => boolean;
}

interface Candidate {
  priority: number;
  rule: string;
  start: number;
  end: number;
}

const DEFAULT_LIMIT = 20;
const MIN_ENTROPY = 3.0;
/** The generic rule looks at this many characters of a value at most. */
const VALUE_MAX = 128;

/** Shannon entropy of `value`, in bits per character. */
function entropy(value: string): number {
  if (value.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const char of value) counts.set(char, (counts.get(char) ?? 0) + 1);
  const length = [...value].length;
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

function secretOf(match: RegExpExecArray): string {
  return match.groups?.secret ?? match[0];
}

function highEntropy(match: RegExpExecArray): boolean {
  return entropy(secretOf(match)) >= MIN_ENTROPY;
}

/** Random keys mix cases and digits; slugs and prose that happen to fit a pattern do not. */
function randomLooking(match: RegExpExecArray): boolean {
  const secret = secretOf(match);
  return highEntropy(match) && /[a-z]/.test(secret) && /[A-Z]/.test(secret) && /[0-9]/.test(secret);
}

/** Words that stand in for a secret in documentation and templates (compared case-insensitively, whole value). */
const PLACEHOLDER_WORDS = new Set([
  'password',
  'passwd',
  'pass',
  'pwd',
  'pw',
  'secret',
  'token',
  'apikey',
  'api_key',
  'changeme',
  'change_me',
  'change-me',
  'placeholder',
  'redacted',
  'hidden',
  'masked',
  'null',
  'none',
  'undefined',
  'empty',
  'string',
  'required',
]);

/**
 * A value written to be replaced: `changeme`, `xxx…`, `***`, `<…>`,
 * `&lt;…&gt;`, `${…}`, `{{…}}`, `{…}`, `$VAR`, `%VAR%`/`%s`, `your_…`, or
 * anything that says it is an example, placeholder or redacted.
 */
function isPlaceholder(value: string): boolean {
  const v = value.toLowerCase();
  return (
    PLACEHOLDER_WORDS.has(v) ||
    v.includes('xxx') ||
    v.includes('***') ||
    v.includes('...') ||
    v.includes('…') ||
    /example|placeholder|redacted|changeme|change_me|dummy|sample/.test(v) ||
    /^<.*>$/.test(v) ||
    /^&lt;.*&gt;$/.test(v) ||
    /^\$\{.*\}$/.test(v) ||
    /^\$\(.*\)$/.test(v) ||
    /^\{.*\}$/.test(v) ||
    /^\[.*\]$/.test(v) ||
    /^\$[a-z_][a-z0-9_]*$/.test(v) ||
    /^%[a-z_]*%?$/.test(v) ||
    /^your[_-]?/.test(v) ||
    /^(?:enter|insert|put|replace)[_-]?(?:your|with|me|here)/.test(v)
  );
}

/** Rules, most specific first: when two matches overlap, the earlier rule's finding is kept. */
const RULES: Rule[] = [
  {
    // AWS access key id: AKIA (long-term) or ASIA (temporary) + 16 uppercase
    // letters or digits, not inside a longer run (e.g. base64 data).
    id: 'aws-access-key-id',
    pattern: /(?<![A-Za-z0-9+/])(?<secret>(?:AKIA|ASIA)[A-Z0-9]{16})(?![A-Za-z0-9+/])/g,
  },
  {
    // AWS secret access key: 40 base64 characters assigned to a name like
    // aws_secret_access_key, AWS_SECRET_KEY or SecretAccessKey (STS output),
    // in `name = value`, `name: value` or `"name": "value"` form.
    id: 'aws-secret-access-key',
    pattern:
      /(?:aws[_.-]?secret[_.-]?(?:access[_.-]?)?key|secret[_.-]?access[_.-]?key)(?:["'`]|&quot;)?[ \t]{0,5}(?:=>|:=|=|:)[ \t]{0,5}(?:["'`]|&quot;)?(?<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/gi,
  },
  {
    // GitHub personal (ghp_), OAuth (gho_), user-to-server (ghu_),
    // server-to-server (ghs_) and refresh (ghr_) tokens: prefix + 36 alphanumerics.
    id: 'github-token',
    pattern: /(?<![A-Za-z0-9_])gh[pousr]_(?<secret>[A-Za-z0-9]{36})(?![A-Za-z0-9_])/g,
  },
  {
    // GitHub fine-grained personal access token: github_pat_ + 82 word characters.
    id: 'github-fine-grained-token',
    pattern: /(?<![A-Za-z0-9_])github_pat_(?<secret>[A-Za-z0-9_]{82})(?![A-Za-z0-9_])/g,
  },
  {
    // GitLab personal access token: glpat- + 20 characters (longer in newer,
    // routable tokens, which may continue with `.version.suffix`).
    id: 'gitlab-token',
    pattern: /(?<![A-Za-z0-9_-])glpat-(?<secret>[A-Za-z0-9_-]{20,64})(?![A-Za-z0-9_-])/g,
  },
  {
    // Slack bot (xoxb), user (xoxp), app (xoxa), refresh (xoxr) and legacy
    // workspace (xoxs) tokens: numeric ids separated by dashes, then a random tail.
    id: 'slack-token',
    pattern: /(?<![A-Za-z0-9_-])xox[abprs]-(?<secret>(?:[0-9]{1,13}-){1,3}[A-Za-z0-9-]{8,128})(?![A-Za-z0-9-])/g,
  },
  {
    // Slack incoming webhook (and workflow / trigger) URLs: whoever has one can post.
    id: 'slack-webhook-url',
    pattern: /(?:https?:\/\/)?hooks\.slack\.com\/(?:services|workflows|triggers)\/(?<secret>[A-Za-z0-9+/]{43,56})/g,
  },
  {
    // Stripe live secret (sk_live_) and restricted (rk_live_) keys. Test-mode
    // and publishable keys are not secrets worth blocking a page for.
    id: 'stripe-live-key',
    pattern: /(?<![A-Za-z0-9_])[sr]k_live_(?<secret>[A-Za-z0-9]{24,247})(?![A-Za-z0-9])/g,
  },
  {
    // Google API key: AIza + 35 base64url characters.
    id: 'google-api-key',
    pattern: /(?<![A-Za-z0-9_-])(?<secret>AIza[A-Za-z0-9_-]{35})(?![A-Za-z0-9_-])/g,
  },
  {
    // OpenAI: project / service-account / admin keys (sk-proj-, sk-svcacct-,
    // sk-admin- + a long base64url tail), and legacy keys (sk- + 48
    // alphanumerics with the "T3BlbkFJ" marker, base64 of "OpenAI", in the middle).
    id: 'openai-api-key',
    pattern:
      /(?<![A-Za-z0-9_-])sk-(?<secret>(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,250}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})(?![A-Za-z0-9_-])/g,
    accept: randomLooking,
  },
  {
    // Anthropic: sk-ant- + kind and version (api03, admin01, oat01, …) + a long base64url tail.
    id: 'anthropic-api-key',
    pattern: /(?<![A-Za-z0-9_-])sk-ant-(?<secret>[a-z]{2,10}[0-9]{2}-[A-Za-z0-9_-]{32,250})(?![A-Za-z0-9_-])/g,
    accept: randomLooking,
  },
  {
    // PEM private key (RSA, EC, DSA, OPENSSH, ENCRYPTED, PGP … PRIVATE KEY):
    // the BEGIN line, optional armor header lines (Proc-Type:, Version: …),
    // then at least 40 base64 characters of body. A BEGIN line followed by
    // `...` or `<your key>` is documentation, and a public key or certificate
    // is not secret. Line breaks may be escaped (`\n`) as in a JSON
    // service-account file. A header line starts with a line break its value
    // cannot contain, so there is one way only to split headers: the group
    // repeats without backtracking blow-up.
    id: 'private-key',
    pattern:
      /-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----(?:(?:\r?\n|\\r?\\n)[A-Za-z][A-Za-z0-9-]{0,30}:[^\r\n\\]{0,200}){0,8}(?:\s|\\[rn]){1,8}(?<secret>[A-Za-z0-9+/]{40})/g,
  },
  {
    // JSON Web Token: base64url header and payload that both decode to a JSON
    // object (so start "eyJ", i.e. `{"`), and a signature.
    id: 'jwt',
    pattern:
      /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{10,4096}\.eyJ[A-Za-z0-9_-]{10,16384}\.(?<secret>[A-Za-z0-9_-]{10,2048})(?![A-Za-z0-9_-])/g,
  },
  {
    // Vitrine's own bearer secrets: personal (vtr_pat_), run reporter
    // (vtr_run_), share (vtr_shr_) and session (vtr_ses_) tokens, each the
    // prefix + 32 random bytes in base64url (43 characters).
    id: 'vitrine-token',
    pattern: /(?<![A-Za-z0-9_-])vtr_(?:pat|run|shr|ses)_(?<secret>[A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])/g,
  },
  {
    // URL with a password in it: scheme://user:password@host. Judged in
    // code: the password must not be a placeholder (`***`, `${VAR}`, `password` …).
    id: 'url-credentials',
    pattern:
      /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,19}:\/\/[^\s:/?#@"'`<>]{1,128}:(?<secret>[^\s/?#@"'`<>]{3,128})@[A-Za-z0-9[]/g,
    accept: (match) => !isPlaceholder(secretOf(match)),
  },
  {
    // Generic: a name containing password / passwd / secret / api_key /
    // apikey / access_token / auth_token / private_key, assigned a value as
    // `name = "value"`, `name: value`, `"name": "value"`, `NAME=value`,
    // `name := value` or `name => value`, quotes possibly HTML-encoded
    // (`&quot;`). The value (its first 8 to 128 characters) is judged in
    // code: `acceptGeneric`, which also checks what follows it. Only a
    // keyword-bearing name can start a match, and everything after it is
    // bounded; the value is the last part, so it is never backtracked into.
    id: 'generic-secret',
    pattern: new RegExp(
      [
        // the keyword, then the rest of the name (db_password_prod, clientSecret, X-Api-Key …)
        String.raw`(?:pass(?:word|wd)|secret|api[_-]?key|access[_-]?token|auth[_-]?token|private[_-]?key)[A-Za-z0-9_.-]{0,40}`,
        // the name's closing quote and bracket (env["API_KEY"]), if any, and the assignment
        String.raw`(?:["'\x60]|&quot;|&#34;|&#x22;|&#39;|&#x27;|&apos;)?\]?[ \t]{0,5}(?:=>|:=|=|:)[ \t]{0,5}(?:\*{1,2}[ \t]{0,3})?`,
        '(?:',
        // a quoted value
        String.raw`(?<q>["'\x60])(?<quoted>[^"'\x60\\<>\s]{8,${VALUE_MAX}})`,
        // a value quoted with HTML entities
        String.raw`|(?<eq>&quot;|&#34;|&#x22;|&#39;|&#x27;|&apos;)(?<equoted>[^"'\x60\\<>\s&]{8,${VALUE_MAX}})`,
        // a bare value (not starting with `=`, so `==` comparisons are not assignments)
        String.raw`|(?<bare>[^\s"'\x60\\<>&;,(){}\[\]|=][^\s"'\x60\\<>&;,(){}\[\]|]{7,${VALUE_MAX - 1}})`,
        ')',
      ].join(''),
      'gi',
    ),
    accept: acceptGeneric,
  },
];

/** What may follow a bare value: it ends there, rather than being a call (`getKey(`) or an index. */
const BARE_VALUE_END = /[\s"'`<>&;,)\]}|\\]/;

/**
 * The generic rule's value must end where a value ends (its closing quote,
 * or for a bare value a delimiter), unless it runs past VALUE_MAX, which
 * only a long token or blob does; and it must look random, not like a
 * placeholder, a reference to a secret kept elsewhere, or a name.
 */
function acceptGeneric(match: RegExpExecArray, text: string): boolean {
  const { q, quoted, eq, equoted, bare } = match.groups ?? {};
  const value = quoted ?? equoted ?? bare ?? '';
  const end = match.index + match[0].length;
  const long = value.length >= VALUE_MAX;
  if (quoted !== undefined && !long && !text.startsWith(q, end)) return false;
  if (equoted !== undefined && !long && !text.startsWith(eq, end)) return false;
  if (bare !== undefined) {
    const next = text.charAt(end);
    if (!long && next !== '' && !BARE_VALUE_END.test(next)) return false;
    if (looksLikeIdentifier(bare)) return false;
    if (bare.endsWith(':')) return false; // the next name in `a: b: c`, not a value
  }
  return (
    entropy(value) >= MIN_ENTROPY &&
    !isPlaceholder(value) &&
    !/^[0-9]+$/.test(value) && // a number: a port, a timeout, a length
    !value.includes('://') && // a URL: url-credentials judges those
    !/^[^@\s]+@[^@\s]+\.[a-z]{2,}$/i.test(value) && // an email address
    !/^[a-z]+(?:[-_.](?:[a-z]+|[0-9]+))+$/.test(value) && // a slug or resource name: tls-cert, db-credentials-2024
    !/^[A-Z]+(?:_[A-Z0-9]+)+$/.test(value) && // the name of an environment variable
    !/^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/.test(value) // a property path: process.env.API_KEY, config.secret
  );
}

/**
 * A bare value made of letters only that reads as a code identifier
 * (`HTMLInputElement`, `passwordField`): every case-word is an acronym or at
 * least three letters. Random letters (`kVqLmXpZ`) break into short words.
 */
function looksLikeIdentifier(value: string): boolean {
  if (!/^[A-Za-z]+$/.test(value)) return false;
  const words = value.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z]+/g) ?? [];
  return words.every((word) => word.length >= 3 || /^[A-Z]+$/.test(word));
}

/** The first `limit` accepted matches of one rule. */
function* matchesOf(rule: Rule, priority: number, text: string, limit: number): Generator<Candidate> {
  const accept = rule.accept ?? highEntropy;
  let found = 0;
  for (const match of text.matchAll(rule.pattern)) {
    if (!accept(match, text)) continue;
    yield { priority, rule: rule.id, start: match.index, end: match.index + match[0].length };
    if (++found >= limit) return;
  }
}

/**
 * One finding per secret: where matches overlap (`api_key = "sk-proj-…"` is
 * both an OpenAI key and a generic secret), the more specific rule's is kept.
 * `candidates` is sorted by start.
 */
function withoutOverlaps(candidates: Candidate[]): Candidate[] {
  const kept: Candidate[] = [];
  let cluster: Candidate[] = [];
  let clusterEnd = -1;
  const flush = () => {
    const chosen: Candidate[] = [];
    for (const candidate of [...cluster].sort((a, b) => a.priority - b.priority)) {
      if (!chosen.some((c) => c.start < candidate.end && candidate.start < c.end)) chosen.push(candidate);
    }
    kept.push(...chosen.sort((a, b) => a.start - b.start));
    cluster = [];
  };
  for (const candidate of candidates) {
    if (candidate.start >= clusterEnd) flush();
    cluster.push(candidate);
    clusterEnd = Math.max(clusterEnd, candidate.end);
  }
  flush();
  return kept;
}

/**
 * Secrets in `text`, in order of position, at most `limit` of them. Each
 * finding names the rule and the 1-based line, never the value.
 */
export function findSecrets(text: string, limit: number = DEFAULT_LIMIT): SecretFinding[] {
  limit = Math.floor(limit);
  if (!(limit >= 1)) return [];
  const candidates: Candidate[] = [];
  RULES.forEach((rule, priority) => candidates.push(...matchesOf(rule, priority, text, limit)));
  candidates.sort((a, b) => a.start - b.start || a.priority - b.priority);
  const chosen = withoutOverlaps(candidates).slice(0, limit);

  // Lines, counted in one pass through the text up to the last finding.
  const findings: SecretFinding[] = [];
  let line = 1;
  let nextNewline = text.indexOf('\n');
  for (const { rule, start } of chosen) {
    while (nextNewline !== -1 && nextNewline < start) {
      line++;
      nextNewline = text.indexOf('\n', nextNewline + 1);
    }
    findings.push({ rule, line });
  }
  return findings;
}

/** Whether `text` contains any secret; stops at the first. */
export function containsSecrets(text: string): boolean {
  return RULES.some((rule, priority) => !matchesOf(rule, priority, text, 1).next().done);
}
