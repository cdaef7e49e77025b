import { describe, expect, it } from '@jest/globals';
import { containsSecrets, findSecrets } from './secret-scan.js';

// Every fake secret is built at run time (a prefix and the generator below,
// or `cat` of split literals), so that this file itself does not trip a
// secret scanner.

const DIGITS = '0123456789';
const UPPER_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ' + DIGITS;
const ALNUM = UPPER_DIGITS + 'abcdefghijklmnopqrstuvwxyz';
const B64URL = ALNUM + '-_';
const B64 = ALNUM + '+/';

/** Joins literals, so that a fake secret never appears whole in this file. */
const cat = (...parts: string[]): string => parts.join('');

let state = 0x2545f491;
/** Deterministic random-looking text (xorshift32): the same fake secrets on every run. */
function fake(length: number, alphabet = ALNUM): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out += alphabet[state % alphabet.length];
  }
  return out;
}

const RULES = [
  'aws-access-key-id',
  'aws-secret-access-key',
  'github-token',
  'github-fine-grained-token',
  'gitlab-token',
  'slack-token',
  'slack-webhook-url',
  'stripe-live-key',
  'google-api-key',
  'openai-api-key',
  'anthropic-api-key',
  'private-key',
  'jwt',
  'vitrine-token',
  'url-credentials',
  'generic-secret',
];

const AWS_KEY_ID = cat('AKIA', 'IOSFODNN7EXAMPLE');
const AWS_SECRET = cat('wJalrXUtnFEMI/K7MDENG/', 'bPxRfiCYEXAMPLEKEY');
const pem = (kind: string, newline = '\n') =>
  `-----BEGIN ${kind}PRIVATE KEY-----${newline}${fake(64, B64)}${newline}${fake(64, B64)}${newline}${fake(20, B64)}==${newline}-----END ${kind}PRIVATE KEY-----`;
const jwt = () => 'eyJ' + fake(33, B64URL) + '.eyJ' + fake(80, B64URL) + '.' + fake(43, B64URL);
const generic = () => fake(24);

/** [rule, text containing exactly one secret that rule finds, on line 1]. */
const POSITIVES: [string, string][] = [
  ['aws-access-key-id', `aws_access_key_id = ${AWS_KEY_ID}`],
  ['aws-access-key-id', `{"AccessKeyId": "${'ASIA' + fake(16, UPPER_DIGITS)}"}`],
  ['aws-secret-access-key', `aws_secret_access_key = ${AWS_SECRET}`],
  ['aws-secret-access-key', `export AWS_SECRET_ACCESS_KEY="${AWS_SECRET}"`],
  ['aws-secret-access-key', `"SecretAccessKey": "${fake(40, B64)}",`],
  ['github-token', `git clone https://${'ghp_' + fake(36)}@github.com/acme/app.git`],
  ['github-token', `GITHUB_TOKEN: ${'ghs_' + fake(36)}`],
  ['github-fine-grained-token', `token ${'github_pat_' + fake(22) + '_' + fake(59)}`],
  ['gitlab-token', `PRIVATE-TOKEN: ${'glpat-' + fake(20, B64URL)}`],
  ['slack-token', `SLACK_BOT=${'xoxb-' + fake(11, DIGITS) + '-' + fake(13, DIGITS) + '-' + fake(24)}`],
  ['slack-webhook-url', `curl -X POST ${'https://hooks.slack.com/services/T' + fake(8, UPPER_DIGITS) + '/B' + fake(10, UPPER_DIGITS) + '/' + fake(24)}`],
  ['stripe-live-key', `stripe.setKey('${'sk_live_' + fake(24)}')`],
  ['stripe-live-key', `<code>${'rk_live_' + fake(99)}</code>`],
  ['google-api-key', `<script src="https://maps.googleapis.com/maps/api/js?key=${'AIza' + fake(35, B64URL)}"></script>`],
  ['openai-api-key', `OPENAI=${'sk-proj-' + fake(156, B64URL)}`],
  ['openai-api-key', `key: ${'sk-' + fake(20) + 'T3BlbkFJ' + fake(20)}`],
  ['anthropic-api-key', `client = Anthropic(${'sk-ant-api03-' + fake(93, B64URL) + 'AA'})`],
  ['private-key', pem('RSA ')],
  ['private-key', pem('OPENSSH ')],
  ['private-key', `<pre>${pem('')}</pre>`],
  ['private-key', `{"type": "service_account", "private_key": "${pem('', '\\n')}"}`],
  ['private-key', `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,${fake(32, '0123456789ABCDEF')}\n\n${fake(64, B64)}\n-----END RSA PRIVATE KEY-----`],
  ['jwt', `Authorization: Bearer ${jwt()}`],
  ['vitrine-token', `VITRINE_TOKEN=${'vtr_pat_' + fake(43, B64URL)}`],
  ['vitrine-token', `reporter token: ${'vtr_run_' + fake(43, B64URL)}`],
  ['vitrine-token', `https://vitrine.example.com/s/${'vtr_shr_' + fake(43, B64URL)}`],
  ['url-credentials', `DATABASE_URL=postgres://vitrine:${fake(16)}@db.internal:5432/vitrine`],
  ['url-credentials', `<a href="https://deploy:${fake(12)}@ci.acme.dev/hook">hook</a>`],
  ['generic-secret', `db_password = "${generic()}"`],
  ['generic-secret', `{"apiKey": "${generic()}"}`],
  ['generic-secret', `<pre>{&quot;client_secret&quot;: &quot;${generic()}&quot;}</pre>`],
  ['generic-secret', `AUTH_TOKEN=${generic()}`],
  ['generic-secret', `  private_key: ${generic()}  # prod`],
  ['generic-secret', `passwd := '${generic()}'`],
  ['generic-secret', `os.environ["OPENAI_API_KEY"] = "${generic()}"`],
  ['generic-secret', `client_secret = "${fake(300, B64)}"`],
  ['generic-secret', `curl -H "X-Api-Key: ${generic()}" https://api.acme.dev`],
  ['generic-secret', `https://api.acme.dev/v1?access_token=${generic()}&page=2`],
  ['generic-secret', cat('**Password:** Tr0ub4dor', '%3x!Q')],
];

/** [what, text that holds no secret]. */
const NEGATIVES: [string, string][] = [
  ['an AWS key id of placeholder Xs', 'AKIA' + 'X'.repeat(16)],
  ['a too short AWS key id', 'AKIA1234ABCD'],
  ['an AWS key id inside a longer run', `ZZ${AWS_KEY_ID} ${AWS_KEY_ID}ZZ`],
  ['an AWS secret placeholder', 'aws_secret_access_key = <your-secret-access-key>\nAWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}'],
  ['a GitHub token of Xs', 'ghp_' + 'x'.repeat(36)],
  ['a too short GitHub token', 'ghp_' + fake(30)],
  ['a too short fine-grained token', 'github_pat_' + fake(20)],
  ['a GitLab token of Xs', 'glpat-' + 'x'.repeat(20)],
  ['a Slack token placeholder', 'SLACK_TOKEN=xoxb-your-bot-token-here'],
  ['the Slack docs webhook placeholder', 'https://hooks.slack.com/services/T00000000/B00000000/' + 'X'.repeat(24)],
  ['Stripe test and publishable keys', `${'sk_test_' + fake(24)} ${'pk_live_' + fake(24)}`],
  ['a too short Google key', 'AIza' + fake(30, B64URL)],
  ['an sk-proj- slug', cat('sk-proj-', 'my-awesome-project-for-the-quarterly-demo-app')],
  ['an Anthropic key of Xs', 'sk-ant-api03-' + 'x'.repeat(95)],
  ['a private key elided in docs', '-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----'],
  ['a private key placeholder', '-----BEGIN RSA PRIVATE KEY-----\n<paste your key here>\n-----END RSA PRIVATE KEY-----'],
  ['a public key', `-----BEGIN PUBLIC KEY-----\n${fake(64, B64)}\n-----END PUBLIC KEY-----`],
  ['a certificate', `-----BEGIN CERTIFICATE-----\n${fake(64, B64)}\n-----END CERTIFICATE-----`],
  ['a lone JWT header', 'eyJ' + fake(30, B64URL)],
  ['a JWT with a placeholder signature', 'eyJ' + fake(30, B64URL) + '.eyJ' + fake(40, B64URL) + '.' + 'x'.repeat(20)],
  ['Vitrine tokens of the wrong length or kind', `vtr_pat_secret-in-response ${'vtr_pat_' + fake(42, B64URL)} ${'vtr_abc_' + fake(43, B64URL)}`],
  ['URLs with placeholder passwords', 'postgres://vitrine:***@db/vitrine https://user:<password>@example.com https://user:${DB_PASSWORD}@db mysql://root:password@localhost mysql://root:&lt;password&gt;@localhost'],
  ['URLs without a password', 'https://github.com/acme/vitrine git@github.com:acme/vitrine.git ssh://git@github.com/acme mailto:ops@acme.dev'],
  [
    'placeholder values',
    [
      'password = "changeme"',
      'api_key: "Your_Api_Key_2"',
      'OPENAI_API_KEY="${OPENAI_API_KEY}"',
      'auth_token: {{ auth_token }}',
      'secret: "{{vault:kv/app#Secret9}}"',
      'password: "Pa55***word"',
      'API_KEY=xxxx-xxxx-1234-ABCD',
      '"apiKey": "sk-Example-Zq81LmX0"',
      'secret: <your-secret>',
      '&quot;password&quot;: &quot;&lt;password&gt;&quot;',
    ].join('\n'),
  ],
  ['quoted text that is not one token', '"password": "Min8Chars, one digit"\nsecret = \'Rotate4Keys every quarter\''],
  ['short values', 'password: abc123\nAPI_KEY=a1b2c3'],
  ['low-entropy values', 'password = "aaaaaaaabbbbbbbb"\nPASSWORD=passwordpassword\nsecret_ttl_ms: 86400000'],
  ['a number', 'api_key_created_at: 1718923456'],
  [
    'prose about passwords and secrets',
    'Choose a strong password. Keep your API key secret: never paste it here.\nThe secret to good docs is brevity. Password: at least twelve characters.\nRotate the access token every 90 days; the auth token expires after an hour.',
  ],
  ['a UUID', 'Run 123e4567-e89b-12d3-a456-426614174000 finished.\n{"id": "9b2f1c3e-4d5a-4b6c-8d7e-0f1a2b3c4d5e"}'],
  ['a git SHA', 'Fixed in commit 3f786850e387550fdab836ed7e6dc881de23001b.\n{"sha": "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"}'],
  ['a base64 image in Markdown', `# Chart\n\n![chart](data:image/png;base64,iVBORw0KGgo${fake(8000, B64)}==)\n`],
  ['a password form field', '<input type="password" name="password" autocomplete="current-password" placeholder="Password">'],
  [
    'code that reads secrets from elsewhere',
    'apiKey: process.env.OPENAI_API_KEY,\nconst password = await vault.read(name);\nsecret: loadSecretFromVault(name),\nauth_token: getV2Token(user),\npasswordInput: HTMLInputElement;\npassword: string;\nif (password === input) return;',
  ],
  ['resource names', 'secretName: vitrine-tls-cert\nsecret: db-credentials-2024\nDB_PASSWORD: ${{ secrets.DB_PASSWORD }}\npassword_env: DB_PASSWORD_PROD'],
  ['an email address', 'secretary_email: jane.doe@acme.dev'],
];

describe('findSecrets', () => {
  it('has a positive case for every rule', () => {
    expect(new Set(POSITIVES.map(([rule]) => rule))).toEqual(new Set(RULES));
  });

  it.each(POSITIVES)('finds %s', (rule, text) => {
    expect(findSecrets(text)).toEqual([{ rule, line: 1 }]);
    expect(containsSecrets(text)).toBe(true);
  });

  it.each(NEGATIVES)('does not flag %s', (_what, text) => {
    expect(findSecrets(text)).toEqual([]);
    expect(containsSecrets(text)).toBe(false);
  });

  it('finds nothing in empty text', () => {
    expect(findSecrets('')).toEqual([]);
    expect(containsSecrets('')).toBe(false);
  });

  it('reports the rule and the line, never the secret', () => {
    const texts = POSITIVES.map(([, text]) => text);
    const findings = findSecrets(texts.join('\n'), 1000);
    expect(findings).toHaveLength(POSITIVES.length);
    expect(findings.map((f) => Object.keys(f).sort())).toEqual(findings.map(() => ['line', 'rule']));
    const json = JSON.stringify(findings);
    const secrets = [AWS_KEY_ID, AWS_SECRET, ...texts.flatMap((text) => text.match(/[A-Za-z0-9_/+-]{16,}/g) ?? [])];
    expect(secrets.filter((secret) => json.includes(secret))).toEqual([]);
  });

  it('numbers lines from 1, with LF or CRLF line ends, in order of position', () => {
    const token = 'ghp_' + fake(36);
    const text = [
      `${AWS_KEY_ID} is on line 1`,
      'nothing here',
      '',
      `two on line 4: ${token} and ${jwt()}\r`,
      'still nothing\r',
      `<p>line 6</p><p>${'AIza' + fake(35, B64URL)}</p>`,
      `last line, no newline: ${'vtr_pat_' + fake(43, B64URL)}`,
    ].join('\n');
    expect(findSecrets(text)).toEqual([
      { rule: 'aws-access-key-id', line: 1 },
      { rule: 'github-token', line: 4 },
      { rule: 'jwt', line: 4 },
      { rule: 'google-api-key', line: 6 },
      { rule: 'vitrine-token', line: 7 },
    ]);
  });

  it('reports one finding for a secret that several rules match, from the most specific rule', () => {
    const text = `api_key = "${'sk-proj-' + fake(100, B64URL)}"\naccess_token: ${jwt()}`;
    expect(findSecrets(text)).toEqual([
      { rule: 'openai-api-key', line: 1 },
      { rule: 'jwt', line: 2 },
    ]);
  });

  it('stops after the limit, 20 by default', () => {
    const text = Array.from({ length: 30 }, () => `key ${'AKIA' + fake(16, UPPER_DIGITS)}`).join('\n');
    expect(findSecrets(text)).toHaveLength(20);
    expect(findSecrets(text, 5)).toEqual([1, 2, 3, 4, 5].map((line) => ({ rule: 'aws-access-key-id', line })));
    expect(findSecrets(text, 100)).toHaveLength(30);
    expect(findSecrets(text, 0)).toEqual([]);
  });

  it('keeps the first findings by position when the limit cuts across rules', () => {
    const text = [jwt(), AWS_KEY_ID, jwt(), AWS_KEY_ID].join('\n');
    expect(findSecrets(text, 3)).toEqual([
      { rule: 'jwt', line: 1 },
      { rule: 'aws-access-key-id', line: 2 },
      { rule: 'jwt', line: 3 },
    ]);
  });

  it('scans 5 MiB of adversarial text to the end without backtracking blow-up', () => {
    const chunk = 256 * 1024;
    const fill = (unit: string) => unit.repeat(Math.ceil(chunk / unit.length));
    const parts = [
      fill('a'),
      fill('='),
      fill(':'),
      fill('-'),
      fill('eyJ'),
      fill('eyJ' + 'a'.repeat(12) + '.'),
      fill('-----BEGIN'),
      fill('-----BEGIN RSA PRIVATE KEY-----\n'),
      fill('-----BEGIN RSA PRIVATE KEY-----\nA:' + ' A:'.repeat(24) + '\n'),
      fill('-----BEGIN RSA PRIVATE KEY-----' + '\nA: a b c  '.repeat(8) + '\n  \n'),
      fill('password='),
      fill('api_key: "'),
      fill('secret&quot;:&quot;'),
      fill('secret_a.b-c_d.e-f: '),
      fill('https://a:'),
      fill('xoxb-1-'),
      fill('AKIA'),
      fill('sk-proj-'),
      fill('ghp_'),
      fill('vtr_pat_'),
      fill('A'),
      fill(' \n'),
      fill('a1'),
    ];
    const big = parts.join('\n');
    expect(big.length).toBeGreaterThan(5 * 1024 * 1024);
    expect(findSecrets(big)).toEqual([]);
    expect(containsSecrets(big)).toBe(false);

    const lines = big.split('\n').length;
    const withSecret = `${big}\nhere: ${AWS_KEY_ID}`;
    expect(findSecrets(withSecret)).toEqual([{ rule: 'aws-access-key-id', line: lines + 1 }]);
    expect(containsSecrets(withSecret)).toBe(true);
  });
});
