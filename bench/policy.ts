/**
 * Policy decision benchmark: the Vitrine gate (CompiledPolicy.decide with a
 * cached ability) against raw CASL and Cedar (cedar-wasm), in one run, on the
 * same 50-rule bundle and the same ~100 instance-level requests.
 *
 *   npm run bench:policy
 *
 * The bundle is generated here as YAML and loaded with loadBundle; the raw
 * CASL rules and the Cedar policies are derived from the loaded bundle, so the
 * three answer the same questions. Every request's allow/deny is compared
 * across all of them before anything is timed.
 */
import { createMongoAbility, subject as tagSubject, type MongoAbility, type RawRuleOf } from '@casl/ability';
import { stringify } from 'yaml';
import { loadBundle, type Conditions, type PolicyRule } from '../src/policy/bundle.js';
import { CompiledPolicy, type PolicyActor } from '../src/policy/policy-engine.js';
import type { Action, PolicyRole, Subject } from '../src/policy/policy.types.js';
import { mulberry32, numberArg } from './harness.js';
import { linkRecheckBench } from './link-recheck.js';

type Cedar = typeof import('@cedar-policy/cedar-wasm/nodejs');
type CedarEntity = import('@cedar-policy/cedar-wasm/nodejs').EntityJson;
type CedarValue = import('@cedar-policy/cedar-wasm/nodejs').CedarValueJson;
type CedarCall = import('@cedar-policy/cedar-wasm/nodejs').AuthorizationCall;
type CedarStatefulCall = import('@cedar-policy/cedar-wasm/nodejs').StatefulAuthorizationCall;
type CedarAnswer = import('@cedar-policy/cedar-wasm/nodejs').AuthorizationAnswer;

const CASL_ITERATIONS = 200_000;
const CEDAR_ITERATIONS = 10_000;
const CEDAR_STATELESS_ITERATIONS = 1_000;
const REQUEST_COUNT = 100;
const BATCH = 16;
const ORG = 'org-1';
const OTHER_ORG = 'org-2';

// --- The 50-rule bundle ------------------------------------------------------

type Spec = Omit<PolicyRule, 'reason'> & { reason?: string };

const ALL_WRITES: Action[] = ['create', 'update', 'delete', 'report', 'publish', 'remix'];
const CROSS_ORG_SUBJECTS: Subject[] = ['Run', 'Artifact', 'Share', 'Member', 'Team'];

const SPECS: Spec[] = [
  // Admins run their own org.
  ...CROSS_ORG_SUBJECTS.map((s): Spec => ({ id: `admins-manage-${s.toLowerCase()}s`, effect: 'allow', roles: ['admin'], actions: ['manage'], subject: s, conditions: { orgId: '{{actor.orgId}}' } })),
  // Everyone in the org reads.
  { id: 'org-reads-runs', effect: 'allow', roles: ['member', 'auditor', 'viewer'], actions: ['read'], subject: 'Run', conditions: { orgId: '{{actor.orgId}}' } },
  { id: 'org-reads-artifacts', effect: 'allow', roles: ['member', 'auditor', 'viewer'], actions: ['read'], subject: 'Artifact', conditions: { orgId: '{{actor.orgId}}' } },
  { id: 'org-reads-members', effect: 'allow', roles: ['member', 'auditor', 'viewer'], actions: ['read'], subject: 'Member', conditions: { orgId: '{{actor.orgId}}' } },
  { id: 'org-reads-teams', effect: 'allow', roles: ['member', 'auditor', 'viewer'], actions: ['read'], subject: 'Team', conditions: { orgId: '{{actor.orgId}}' } },
  { id: 'auditors-read-shares', effect: 'allow', roles: ['auditor'], actions: ['read'], subject: 'Share', conditions: { orgId: '{{actor.orgId}}' } },
  { id: 'members-read-own-shares', effect: 'allow', roles: ['member'], actions: ['read'], subject: 'Share', conditions: { createdBy: '{{actor.id}}' } },
  // Members work on their own and their teams' runs and artifacts.
  { id: 'members-create-runs', effect: 'allow', roles: ['member'], actions: ['create'], subject: 'Run', conditions: { teamId: { $in: '{{actor.teamIds}}' } } },
  { id: 'members-create-artifacts', effect: 'allow', roles: ['member'], actions: ['create'], subject: 'Artifact', conditions: { teamId: { $in: '{{actor.teamIds}}' } } },
  { id: 'members-update-own-runs', effect: 'allow', roles: ['member'], actions: ['update', 'report'], subject: 'Run', conditions: { createdBy: '{{actor.id}}' } },
  { id: 'members-update-team-runs', effect: 'allow', roles: ['member'], actions: ['update', 'report'], subject: 'Run', conditions: { teamId: { $in: '{{actor.teamIds}}' } } },
  { id: 'members-delete-own-finished-runs', effect: 'allow', roles: ['member'], actions: ['delete'], subject: 'Run', conditions: { createdBy: '{{actor.id}}', status: { $in: ['succeeded', 'failed', 'cancelled'] } } },
  { id: 'members-update-own-artifacts', effect: 'allow', roles: ['member'], actions: ['update', 'publish', 'remix'], subject: 'Artifact', conditions: { ownerId: '{{actor.id}}' } },
  { id: 'members-update-team-artifacts', effect: 'allow', roles: ['member'], actions: ['update', 'publish', 'remix'], subject: 'Artifact', conditions: { teamId: { $in: '{{actor.teamIds}}' } } },
  { id: 'members-delete-own-artifacts', effect: 'allow', roles: ['member'], actions: ['delete'], subject: 'Artifact', conditions: { ownerId: '{{actor.id}}' } },
  { id: 'members-remix-org-artifacts', effect: 'allow', roles: ['member'], actions: ['remix'], subject: 'Artifact', conditions: { sameOrg: true } },
  { id: 'members-remix-link-published', effect: 'allow', roles: ['admin', 'member'], actions: ['remix'], subject: 'Artifact', conditions: { publishedByLink: true } },
  { id: 'members-create-shares', effect: 'allow', roles: ['member'], actions: ['create'], subject: 'Share', conditions: { createdBy: '{{actor.id}}', orgId: '{{actor.orgId}}' } },
  { id: 'members-change-own-shares', effect: 'allow', roles: ['member'], actions: ['update', 'delete'], subject: 'Share', conditions: { createdBy: '{{actor.id}}' } },
  { id: 'members-update-themselves', effect: 'allow', roles: ['member', 'viewer'], actions: ['update'], subject: 'Member', conditions: { id: '{{actor.id}}' } },
  { id: 'members-read-teammates', effect: 'allow', roles: ['member'], actions: ['read'], subject: 'Member', conditions: { teamIds: { $in: '{{actor.teamIds}}' } } },
  { id: 'members-rename-their-teams', effect: 'allow', roles: ['member'], actions: ['update'], subject: 'Team', conditions: { id: { $in: '{{actor.teamIds}}' } } },
  // A run's reporter token.
  { id: 'reporter-reports-to-its-run', effect: 'allow', roles: ['reporter'], actions: ['report', 'read'], subject: 'Run', conditions: { id: '{{actor.runId}}' } },
  { id: 'reporter-updates-its-artifacts', effect: 'allow', roles: ['reporter'], actions: ['create', 'update', 'read'], subject: 'Artifact', conditions: { runId: '{{actor.runId}}' } },
  // What nobody may publish or remix.
  { id: 'restricted-never-leaves', effect: 'deny', actions: ['publish', 'remix'], subject: 'Artifact', conditions: { classification: 'restricted' } },
  { id: 'confidential-stays-in-team-or-org', effect: 'deny', actions: ['publish'], subject: 'Artifact', conditions: { classification: 'confidential', 'share.audience': 'link' } },
  { id: 'no-links-with-secrets', effect: 'deny', actions: ['publish'], subject: 'Artifact', conditions: { containsSecrets: true, 'share.audience': 'link' } },
  { id: 'links-expire-within-30-days', effect: 'deny', actions: ['publish'], subject: 'Artifact', conditions: { 'share.audience': 'link', 'share.expiresInSeconds': { $gt: 2592000 } } },
  { id: 'links-must-expire', effect: 'deny', actions: ['publish'], subject: 'Artifact', conditions: { 'share.audience': 'link', 'share.expiresInSeconds': null } },
  { id: 'pinned-links-not-allowed', effect: 'deny', actions: ['publish'], subject: 'Artifact', conditions: { 'share.audience': 'link', 'share.pinned': true } },
  { id: 'team-shares-need-a-team', effect: 'deny', actions: ['publish'], subject: 'Artifact', conditions: { 'share.audience': 'team', teamId: null } },
  { id: 'remix-stays-in-org', effect: 'deny', actions: ['remix'], subject: 'Artifact', conditions: { sameOrg: false, publishedByLink: false } },
  { id: 'secrets-never-remixed', effect: 'deny', actions: ['remix'], subject: 'Artifact', conditions: { containsSecrets: true } },
  { id: 'legal-hold-frozen', effect: 'deny', actions: ['update', 'delete'], subject: 'Artifact', conditions: { labels: 'legal-hold' } },
  // Tenancy: nothing reaches another org.
  ...CROSS_ORG_SUBJECTS.map((s): Spec => ({ id: `no-cross-org-${s.toLowerCase()}s`, effect: 'deny', actions: ['manage'], subject: s, conditions: { orgId: { $ne: '{{actor.orgId}}' } } })),
  // Run lifecycle.
  { id: 'running-runs-not-deleted', effect: 'deny', actions: ['delete'], subject: 'Run', conditions: { status: 'running' } },
  { id: 'archived-runs-frozen', effect: 'deny', actions: ['update', 'report'], subject: 'Run', conditions: { status: 'archived' } },
  // Shares, members.
  { id: 'expired-shares-frozen', effect: 'deny', actions: ['update'], subject: 'Share', conditions: { expiresAt: { $lt: 1_750_000_000 } } },
  { id: 'non-admins-leave-admins-alone', effect: 'deny', roles: ['member', 'auditor', 'viewer'], actions: ['update', 'delete'], subject: 'Member', conditions: { role: 'admin' } },
  // Read-only roles.
  { id: 'auditors-and-viewers-never-write-runs', effect: 'deny', roles: ['auditor', 'viewer'], actions: ALL_WRITES, subject: 'Run' },
  { id: 'auditors-and-viewers-never-write-artifacts', effect: 'deny', roles: ['auditor', 'viewer'], actions: ALL_WRITES, subject: 'Artifact' },
  { id: 'reporters-never-publish', effect: 'deny', roles: ['reporter'], actions: ['publish', 'remix', 'delete'], subject: 'Artifact' },
];

const RULE_COUNT = 50;

function bundleYaml(): string {
  if (SPECS.length !== RULE_COUNT) throw new Error(`the bench bundle should have ${RULE_COUNT} rules, not ${SPECS.length}`);
  const rules = SPECS.map((s) => ({ ...s, reason: s.reason ?? s.id.replaceAll('-', ' ') }));
  return `# Generated by bench/policy.ts: a typical ${rules.length}-rule bundle.\n${stringify({ rules })}`;
}

// --- Actors and requests -----------------------------------------------------

const ACTORS: PolicyActor[] = [
  { id: 'u-ada', orgId: ORG, role: 'admin', teamIds: ['t-core'] },
  { id: 'u-bo', orgId: ORG, role: 'admin', teamIds: [] },
  { id: 'u-cy', orgId: ORG, role: 'member', teamIds: ['t-core', 't-ml'] },
  { id: 'u-dee', orgId: ORG, role: 'member', teamIds: ['t-ml'] },
  { id: 'u-eli', orgId: ORG, role: 'member', teamIds: ['t-web'] },
  { id: 'u-fay', orgId: ORG, role: 'member', teamIds: [] },
  { id: 'u-gus', orgId: ORG, role: 'member', teamIds: ['t-core', 't-web', 't-data'] },
  { id: 'u-hal', orgId: ORG, role: 'auditor', teamIds: [] },
  { id: 'u-ivy', orgId: ORG, role: 'viewer', teamIds: ['t-web'] },
  { id: 'tok-run-1', orgId: ORG, role: 'reporter', teamIds: [], runId: 'run-1' },
  { id: 'tok-run-7', orgId: ORG, role: 'reporter', teamIds: [], runId: 'run-7' },
];
const USER_IDS = ACTORS.filter((a) => a.role !== 'reporter').map((a) => a.id);
const TEAMS = ['t-core', 't-ml', 't-web', 't-data', 't-ops'];

interface Request {
  actor: PolicyActor;
  action: Action;
  subject: Subject;
  attributes: Record<string, unknown>;
}


function makeRequests(count: number): Request[] {
  const rnd = mulberry32(20_240_611);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rnd() * items.length)]!;
  const chance = (p: number) => rnd() < p;
  const weighted = <T>(pairs: [T, number][]): T => {
    let r = rnd() * pairs.reduce((s, [, w]) => s + w, 0);
    for (const [v, w] of pairs) if ((r -= w) < 0) return v;
    return pairs[pairs.length - 1]![0];
  };
  const requests: Request[] = [];
  for (let i = 0; i < count; i++) {
    const actor = pick(ACTORS);
    const orgId = chance(0.05) ? OTHER_ORG : ORG;
    const own = (p: number) => (chance(p) ? actor.id : pick(USER_IDS));
    const team = (p: number) => (chance(p) && actor.teamIds.length ? pick(actor.teamIds) : pick(TEAMS));
    const subject = weighted<Subject>([['Artifact', 55], ['Run', 20], ['Share', 10], ['Member', 8], ['Team', 7]]);
    let action: Action;
    let attributes: Record<string, unknown>;
    switch (subject) {
      case 'Artifact': {
        action = weighted<Action>([['publish', 45], ['read', 15], ['update', 15], ['remix', 15], ['delete', 5], ['create', 5]]);
        const runId = actor.runId && chance(0.6) ? actor.runId : `run-${1 + Math.floor(rnd() * 9)}`;
        attributes = {
          id: `a-${i}`,
          orgId,
          teamId: chance(0.15) ? null : team(0.5),
          ownerId: own(0.35),
          runId,
          kind: pick(['report', 'dataset', 'chart', 'notebook']),
          title: `Artifact ${i}`,
          classification: weighted([['public', 30], ['internal', 40], ['confidential', 20], ['restricted', 10]]),
          labels: chance(0.1) ? ['legal-hold'] : chance(0.5) ? ['q3'] : [],
          containsSecrets: chance(0.1),
          publishedByLink: chance(0.2),
          sameOrg: orgId === actor.orgId,
          remixedFrom: null,
        };
        if (action === 'publish') {
          const share: Record<string, unknown> = { audience: weighted([['link', 55], ['org', 25], ['team', 20]]), pinned: chance(0.15) };
          if (!chance(0.15)) share.expiresInSeconds = pick([3600, 86_400, 604_800, 2_592_000, 7_776_000]);
          attributes.share = share;
        }
        break;
      }
      case 'Run':
        action = actor.role === 'reporter' ? pick<Action>(['report', 'read', 'update']) : pick<Action>(['read', 'create', 'update', 'report', 'delete']);
        attributes = {
          id: actor.runId && chance(0.6) ? actor.runId : `run-${1 + Math.floor(rnd() * 9)}`,
          orgId,
          teamId: team(0.5),
          createdBy: own(0.4),
          status: pick(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'archived']),
          labels: chance(0.1) ? ['legal-hold'] : [],
          title: `Run ${i}`,
        };
        break;
      case 'Share':
        action = pick<Action>(['read', 'create', 'update', 'delete']);
        attributes = {
          id: `s-${i}`,
          orgId,
          artifactId: `a-${i}`,
          audience: pick(['link', 'org', 'team']),
          createdBy: own(0.5),
          expiresAt: pick([1_700_000_000, 1_800_000_000, 1_900_000_000]),
          revision: Math.floor(rnd() * 4),
        };
        break;
      case 'Member':
        action = pick<Action>(['read', 'update', 'delete']);
        attributes = {
          id: own(0.3),
          orgId,
          role: pick<PolicyRole>(['admin', 'member', 'member', 'auditor', 'viewer']),
          teamIds: chance(0.5) ? [team(0.6)] : [],
          email: `someone${i}@example.test`,
        };
        break;
      default:
        action = pick<Action>(['read', 'update', 'delete', 'create']);
        attributes = { id: team(0.5), orgId, name: `Team ${i}` };
    }
    requests.push({ actor, action, subject, attributes });
  }
  return requests;
}

// --- Raw CASL: the same rules, substituted for each actor, built once --------

type RawAbility = MongoAbility<[Action, Subject | Record<string, unknown>]>;
const NO_RUN = '\u0000no-run';

function substituteFor(value: unknown, actor: PolicyActor): unknown {
  if (value === '{{actor.id}}') return actor.id;
  if (value === '{{actor.orgId}}') return actor.orgId;
  if (value === '{{actor.teamIds}}') return actor.teamIds;
  if (value === '{{actor.runId}}') return actor.runId ?? NO_RUN;
  if (Array.isArray(value)) return value.map((v) => substituteFor(v, actor));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteFor(v, actor)]));
  return value;
}

function rawAbility(rules: PolicyRule[], actor: PolicyActor): RawAbility {
  const mine = rules.filter((r) => !r.roles || r.roles.includes(actor.role));
  // CASL: a later rule wins, so every deny goes after every allow.
  const ordered = [...mine.filter((r) => r.effect === 'allow'), ...mine.filter((r) => r.effect === 'deny')];
  const raw = ordered.map((r) => ({
    action: r.actions,
    subject: r.subject,
    inverted: r.effect === 'deny',
    ...(r.conditions ? { conditions: substituteFor(r.conditions, actor) } : {}),
  }));
  return createMongoAbility<RawAbility>(raw as RawRuleOf<RawAbility>[]);
}

// --- Cedar: the same rules as permit/forbid policies --------------------------

/** Attributes that hold a list: CASL's equality means "contains", $in means "overlaps". */
const LIST_ATTRIBUTES = new Set(['labels', 'teamIds']);

const PRINCIPAL: Record<string, { expr: string; guard?: string }> = {
  '{{actor.id}}': { expr: 'principal.id' },
  '{{actor.orgId}}': { expr: 'principal.orgId' },
  '{{actor.teamIds}}': { expr: 'principal.teamIds' },
  '{{actor.runId}}': { expr: 'principal.runId', guard: 'principal has runId' },
};

function cedarLiteral(value: unknown): string {
  if (typeof value === 'string') {
    const p = PRINCIPAL[value];
    if (p) return p.expr;
    return JSON.stringify(value);
  }
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return `[${value.map(cedarLiteral).join(', ')}]`;
  throw new Error(`no Cedar literal for ${JSON.stringify(value)}`);
}

function principalGuard(value: unknown): string[] {
  const p = typeof value === 'string' ? PRINCIPAL[value] : undefined;
  return p?.guard ? [p.guard] : [];
}

/**
 * One condition of a CASL rule as a Cedar expression with CASL's (ucast's)
 * semantics: a missing attribute matches nothing but `null`, `$ne` and `$lt(e)`.
 */
function cedarCondition(key: string, condition: unknown): string {
  const path = key.split('.');
  const attr = `resource.${path.join('.')}`;
  const field = path[path.length - 1]!;
  const parent = ['resource', ...path.slice(0, -1)].join('.');
  // resource has share && resource.share has audience
  const parentGuards = path.slice(0, -1).map((p, i) => `${['resource', ...path.slice(0, i)].join('.')} has ${p}`);
  const present = [...parentGuards, `${parent} has ${field}`];
  const isList = LIST_ATTRIBUTES.has(field);
  const all = (...parts: string[]) => `(${parts.join(' && ')})`;
  const equals = (value: unknown) => all(...present, ...principalGuard(value), isList ? `${attr}.contains(${cedarLiteral(value)})` : `${attr} == ${cedarLiteral(value)}`);

  if (condition === null) return parentGuards.length ? all(...parentGuards, `!(${parent} has ${field})`) : `!(${parent} has ${field})`;
  if (typeof condition !== 'object' || Array.isArray(condition)) return equals(condition);
  const parts = Object.entries(condition as Record<string, unknown>).map(([op, value]) => {
    switch (op) {
      case '$eq':
        return equals(value);
      case '$ne':
        return `!${equals(value)}`;
      case '$in':
        return all(...present, ...principalGuard(value), isList ? `${attr}.containsAny(${cedarLiteral(value)})` : `${cedarLiteral(value)}.contains(${attr})`);
      case '$gt':
        return all(...present, `${attr} > ${cedarLiteral(value)}`);
      case '$gte':
        return all(...present, `${attr} >= ${cedarLiteral(value)}`);
      case '$lt':
        return `(!${all(...present)} || ${attr} < ${cedarLiteral(value)})`;
      case '$lte':
        return `(!${all(...present)} || ${attr} <= ${cedarLiteral(value)})`;
      default:
        throw new Error(`the benchmark has no Cedar translation for ${op}`);
    }
  });
  return parts.join(' && ');
}

function cedarPolicy(rule: PolicyRule): string {
  const effect = rule.effect === 'allow' ? 'permit' : 'forbid';
  const action = rule.actions.includes('manage') ? 'action' : `action in [${rule.actions.map((a) => `Action::${JSON.stringify(a)}`).join(', ')}]`;
  const when: string[] = [];
  if (rule.roles) when.push(`${JSON.stringify(rule.roles)}.contains(principal.role)`);
  for (const [key, value] of Object.entries(rule.conditions ?? ({} as Conditions))) when.push(cedarCondition(key, value));
  const body = when.length ? `\nwhen { ${when.join(' && ')} }` : '';
  return `${effect} (principal, ${action}, resource is ${rule.subject})${body};`;
}

function cedarValue(value: unknown): CedarValue | undefined {
  if (value === null || value === undefined) return undefined; // Cedar has no null: the attribute is absent.
  if (Array.isArray(value)) return value.map((v) => cedarValue(v)).filter((v) => v !== undefined);
  if (typeof value === 'object') return cedarRecord(value as Record<string, unknown>);
  return value as CedarValue;
}

function cedarRecord(attributes: Record<string, unknown>): Record<string, CedarValue> {
  const out: Record<string, CedarValue> = {};
  for (const [k, v] of Object.entries(attributes)) {
    const c = cedarValue(v);
    if (c !== undefined) out[k] = c;
  }
  return out;
}

function cedarEntities(request: Request, index: number): CedarEntity[] {
  const { actor } = request;
  const principal: CedarEntity = {
    uid: { type: 'User', id: actor.id },
    attrs: cedarRecord({ id: actor.id, orgId: actor.orgId, role: actor.role, teamIds: actor.teamIds, runId: actor.runId }),
    parents: [],
  };
  const resource: CedarEntity = { uid: { type: request.subject, id: `r-${index}` }, attrs: cedarRecord(request.attributes), parents: [] };
  return [principal, resource];
}

const cedarFloorRequest = { principal: { type: 'User', id: 'u' }, action: { type: 'Action', id: 'read' }, resource: { type: 'Run', id: 'r' }, context: {} };

// --- Measurement -------------------------------------------------------------

interface Row {
  name: string;
  iterations: number;
  timing: string;
  perSecond: number;
  p50: number;
  p99: number;
}

const now = () => process.hrtime.bigint();

function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.floor(sorted.length / 2)]!;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Median cost of one back-to-back pair of timer reads, in ns. */
function timerOverhead(): number {
  const samples = new Float64Array(200_000);
  for (let i = 0; i < samples.length; i++) {
    const t0 = now();
    samples[i] = Number(now() - t0);
  }
  return median(samples);
}

let sink = 0;

function measure(name: string, decide: (r: number) => boolean, requests: number, iterations: number, overheadNs: number): Row {
  const warmup = Math.max(200, Math.ceil(iterations / 10));
  for (let i = 0; i < warmup; i++) if (decide(i % requests)) sink++;

  // Throughput: the fixed number of iterations, no timer inside the loop.
  const t0 = now();
  for (let i = 0; i < iterations; i++) if (decide(i % requests)) sink++;
  const elapsed = Number(now() - t0);

  // Latency: per call, unless the timer itself would be more than 10% of a call.
  const pilot = new Float64Array(Math.min(20_000, Math.ceil(iterations / 10)));
  for (let i = 0; i < pilot.length; i++) {
    const s = now();
    if (decide(i % requests)) sink++;
    pilot[i] = Number(now() - s);
  }
  const batch = overheadNs > 0.1 * median(pilot) ? BATCH : 1;
  const samples = new Float64Array(Math.floor(iterations / batch));
  let r = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = now();
    for (let b = 0; b < batch; b++) {
      if (decide(r)) sink++;
      if (++r === requests) r = 0;
    }
    samples[i] = Number(now() - s) / batch;
  }
  samples.sort();
  const row: Row = {
    name,
    iterations,
    timing: batch === 1 ? 'per call' : `batches of ${batch}, ÷${batch}`,
    perSecond: iterations / (elapsed / 1e9),
    p50: percentile(samples, 50) / 1000,
    p99: percentile(samples, 99) / 1000,
  };
  console.log(`  ${name}: ${Math.round(row.perSecond).toLocaleString('en-US')} decisions/s, p50 ${row.p50.toFixed(2)} µs, p99 ${row.p99.toFixed(2)} µs (${row.timing})`);
  return row;
}

function table(rows: Row[]): string {
  const header = ['name', 'decisions/s', 'p50 µs', 'p99 µs', 'iterations', 'latency timed'];
  const cells = rows.map((r) => [
    r.name,
    Math.round(r.perSecond).toLocaleString('en-US'),
    r.p50 < 10 ? r.p50.toFixed(2) : r.p50.toFixed(1),
    r.p99 < 10 ? r.p99.toFixed(2) : r.p99.toFixed(1),
    r.iterations.toLocaleString('en-US'),
    r.timing,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const right = [false, true, true, true, true, false];
  const line = (c: string[]) => c.map((v, i) => (right[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

// --- Main --------------------------------------------------------------------

async function main(): Promise<void> {
  const started = Date.now();
  console.log(`policy bench: Node ${process.version}, ${process.platform}/${process.arch}`);

  const yaml = bundleYaml();
  const loaded = loadBundle(yaml);
  const rules = loaded.bundle.rules;
  console.log(`bundle: ${rules.length} rules (${rules.filter((r) => r.effect === 'allow').length} allow, ${rules.filter((r) => r.effect === 'deny').length} deny), ${yaml.split('\n').length} lines of YAML, sha256 ${loaded.hash.slice(0, 12)}`);

  const requests = makeRequests(REQUEST_COUNT);
  const R = requests.length;
  const bySubject = new Map<string, number>();
  for (const q of requests) bySubject.set(`${q.action} ${q.subject}`, (bySubject.get(`${q.action} ${q.subject}`) ?? 0) + 1);
  const top = [...bySubject].sort((a, b) => b[1] - a[1]).slice(0, 6);
  console.log(`requests: ${R} instance-level (attributes given), ${ACTORS.length} actors; most common: ${top.map(([k, n]) => `${k} ×${n}`).join(', ')}`);

  // 1. Vitrine gate, abilities warmed into its cache.
  const policy = new CompiledPolicy('bench', loaded.bundle);
  for (const actor of ACTORS) policy.abilityFor(actor);
  const vitrine = (i: number) => {
    const q = requests[i]!;
    return policy.decide(q.actor, q.action, q.subject, q.attributes).allowed;
  };

  // 2. Raw CASL, one ability per actor built up front; subjects tagged per call on private copies.
  const abilities = new Map(ACTORS.map((a) => [a, rawAbility(rules, a)]));
  const caslInputs = requests.map((q) => ({ ability: abilities.get(q.actor)!, action: q.action, type: q.subject, attrs: structuredClone(q.attributes) }));
  const casl = (i: number) => {
    const c = caslInputs[i]!;
    return c.ability.can(c.action, tagSubject(c.type, c.attrs) as never);
  };

  // 3. Cedar.
  let cedar: Cedar | null = null;
  let cedarProblem = '';
  try {
    cedar = await import('@cedar-policy/cedar-wasm/nodejs');
  } catch (error) {
    cedarProblem = `@cedar-policy/cedar-wasm could not be loaded on Node ${process.version}: ${(error as Error).message}`;
  }
  let cedarStateful: ((i: number) => boolean) | null = null;
  let cedarStateless: ((i: number) => boolean) | null = null;
  let cedarAnswer: ((i: number) => CedarAnswer) | null = null;
  if (cedar) {
    const cw = cedar;
    const policies: Record<string, string> = Object.fromEntries(rules.map((r) => [r.id, cedarPolicy(r)]));
    const parsed = cw.checkParsePolicySet({ staticPolicies: policies });
    if (parsed.type === 'failure') throw new Error(`the Cedar translation does not parse: ${parsed.errors.map((e) => e.message).join('; ')}`);
    const prepared = cw.preparsePolicySet('bench', { staticPolicies: policies });
    if (prepared.type === 'failure') throw new Error(`preparsePolicySet failed: ${prepared.errors.map((e) => e.message).join('; ')}`);
    console.log(`cedar: @cedar-policy/cedar-wasm (nodejs entry), Cedar ${cw.getCedarVersion()}, ${Object.keys(policies).length} policies; e.g.\n    ${policies['links-expire-within-30-days']!.replaceAll('\n', '\n    ')}`);
    const statefulCalls: CedarStatefulCall[] = requests.map((q, i) => ({
      principal: { type: 'User', id: q.actor.id },
      action: { type: 'Action', id: q.action },
      resource: { type: q.subject, id: `r-${i}` },
      context: {},
      preparsedPolicySetId: 'bench',
      entities: cedarEntities(q, i),
    }));
    const statelessCalls: CedarCall[] = statefulCalls.map((c) => ({
      principal: c.principal,
      action: c.action,
      resource: c.resource,
      context: c.context,
      entities: c.entities,
      policies: { staticPolicies: policies },
    }));
    const allowed = (answer: CedarAnswer) => {
      if (answer.type === 'failure') throw new Error(`Cedar failed: ${answer.errors.map((e) => e.message).join('; ')}`);
      return answer.response.decision === 'allow';
    };
    cedarAnswer = (i) => cw.statefulIsAuthorized(statefulCalls[i]!);
    cedarStateful = (i) => allowed(cw.statefulIsAuthorized(statefulCalls[i]!));
    cedarStateless = (i) => allowed(cw.isAuthorized(statelessCalls[i]!));
  } else {
    console.log(`cedar: SKIPPED: ${cedarProblem}`);
  }

  // Agreement, request by request.
  let mismatches = 0;
  let ruleMismatches = 0;
  let cedarErrors = 0;
  let allowedCount = 0;
  for (let i = 0; i < R; i++) {
    const q = requests[i]!;
    const decision = policy.decide(q.actor, q.action, q.subject, q.attributes);
    const answers: Record<string, boolean> = { vitrine: decision.allowed, casl: casl(i) };
    if (cedarAnswer && cedarStateless) {
      const answer = cedarAnswer(i);
      if (answer.type === 'failure') throw new Error(`Cedar failed on request ${i}: ${answer.errors.map((e) => e.message).join('; ')}`);
      answers.cedar = answer.response.decision === 'allow';
      answers['cedar-stateless'] = cedarStateless(i);
      const { reason, errors } = answer.response.diagnostics;
      if (errors.length) {
        cedarErrors++;
        console.log(`  cedar evaluation errors on request ${i}: ${errors.map((e) => `${e.policyId}: ${e.error.message}`).join('; ')}`);
      }
      // The rule Vitrine names must be one of those Cedar says decided.
      if (decision.ruleId && !reason.includes(decision.ruleId)) {
        ruleMismatches++;
        console.log(`  deciding rule differs on request ${i}: vitrine ${decision.ruleId}, cedar [${reason.join(', ')}]`);
      }
    }
    if (decision.allowed) allowedCount++;
    if (new Set(Object.values(answers)).size > 1) {
      mismatches++;
      console.log(`  MISMATCH request ${i}: ${q.actor.id} (${q.actor.role}) ${q.action} ${q.subject} ${JSON.stringify(q.attributes)} → ${JSON.stringify(answers)}`);
    }
  }
  const engines = cedar ? 'Vitrine, raw CASL and Cedar (both calls)' : 'Vitrine and raw CASL';
  console.log(`agreement: ${engines} agree on ${R - mismatches}/${R} requests (${allowedCount} allow, ${R - allowedCount} deny); ${mismatches} mismatches${cedar ? `, ${ruleMismatches} deciding-rule differences, ${cedarErrors} requests with Cedar evaluation errors` : ''}`);

  const overhead = timerOverhead();
  console.log(`timer: process.hrtime.bigint() pair costs ${overhead.toFixed(0)} ns (median); latency is timed per call unless that is >10% of a call, then per batch of ${BATCH} ÷ ${BATCH}`);
  console.log('measuring (warm-up, then a fixed number of iterations over the rotating requests):');

  const rows: Row[] = [];
  rows.push(measure('Vitrine gate (CompiledPolicy.decide)', vitrine, R, CASL_ITERATIONS, overhead));
  rows.push(measure('raw CASL (ability.can)', casl, R, CASL_ITERATIONS, overhead));
  if (cedarStateful && cedarStateless) {
    rows.push(measure('Cedar wasm (statefulIsAuthorized)', cedarStateful, R, CEDAR_ITERATIONS, overhead));
    rows.push(measure('Cedar wasm (isAuthorized)', cedarStateless, R, CEDAR_STATELESS_ITERATIONS, overhead));
  }

  console.log('');
  console.log(table(rows));
  console.log('');
  const gate = rows[0]!;
  console.log(`Vitrine gate p99 ${gate.p99.toFixed(2)} µs vs goal ≤ 20 µs: ${gate.p99 <= 20 ? 'met' : 'NOT met'}`);
  if (cedar) {
    // The binding's floor: one permit-all policy, no entities.
    cedar.preparsePolicySet('floor', { staticPolicies: { all: 'permit (principal, action, resource);' } });
    const floorCall: CedarStatefulCall = { ...cedarFloorRequest, preparsedPolicySetId: 'floor', entities: [] };
    for (let i = 0; i < 200; i++) cedar.statefulIsAuthorized(floorCall);
    const f0 = now();
    for (let i = 0; i < 2_000; i++) cedar.statefulIsAuthorized(floorCall);
    const floorUs = Number(now() - f0) / 2_000 / 1000;
    console.log(`Cedar wasm floor: statefulIsAuthorized with 1 permit-all policy and no entities takes ${floorUs.toFixed(1)} µs per call on this machine.`);
    console.log('statefulIsAuthorized uses a policy set parsed once (preparsePolicySet); isAuthorized parses the 50 policies on every call.');
    console.log('Both Cedar rows include serialising the request and its two entities into wasm on every call.');
  } else {
    console.log(`Cedar baseline not run: ${cedarProblem}`);
  }
  const links = numberArg('links', 100_000);
  if (links > 0) await linkRecheckBench(links);
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s (${sink} allows counted while timing)`);
  if (mismatches) process.exitCode = 1;
}

await main();
