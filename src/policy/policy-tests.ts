import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import type { PolicyBundle } from './bundle.js';
import { CompiledPolicy } from './policy-engine.js';
import { ACTIONS, POLICY_ROLES, SUBJECTS } from './policy.types.js';

/** One case of policies/tests/*.yaml. */
const CaseSchema = z.strictObject({
  name: z.string().min(1),
  actor: z.strictObject({
    role: z.enum(POLICY_ROLES),
    id: z.string().default('actor-1'),
    orgId: z.string().default('org-1'),
    teamIds: z.array(z.string()).default([]),
    runId: z.string().optional(),
    installationAdmin: z.boolean().optional(),
  }),
  action: z.enum(ACTIONS),
  resource: z.strictObject({ type: z.enum(SUBJECTS), attributes: z.record(z.string(), z.unknown()).optional() }),
  share: z.strictObject({ audience: z.enum(['link', 'org', 'team']), expiresInSeconds: z.number().int().nullable().default(null), pinned: z.boolean().default(false) }).optional(),
  expect: z.enum(['allow', 'deny']),
  /** The rule this case is about: when the outcome is that rule's effect, it must be the deciding rule. */
  rule: z.string().optional(),
});
export type PolicyTestCase = z.infer<typeof CaseSchema>;

const FileSchema = z.strictObject({ cases: z.array(CaseSchema).min(1) });

export interface CaseResult {
  file: string;
  name: string;
  ok: boolean;
  detail: string;
}

export interface PolicyTestReport {
  results: CaseResult[];
  /** Rules without both a case where they decide and a case where they do not. */
  uncovered: string[];
}

export function loadCases(dir: string): { file: string; cases: PolicyTestCase[] }[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => {
      const parsed = FileSchema.safeParse(parse(readFileSync(path.join(dir, f), 'utf8')));
      if (!parsed.success) {
        throw new Error(`${f}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      }
      return { file: f, cases: parsed.data.cases };
    });
}

export function runPolicyTests(bundle: PolicyBundle, files: { file: string; cases: PolicyTestCase[] }[]): PolicyTestReport {
  const policy = new CompiledPolicy('under-test', bundle);
  const effects = new Map(bundle.rules.map((r) => [r.id, r.effect]));
  const coverage = new Map(bundle.rules.map((r) => [r.id, { decides: false, other: false }]));
  const results: CaseResult[] = [];
  for (const { file, cases } of files) {
    for (const c of cases) {
      const attributes = c.share ? { ...c.resource.attributes, share: c.share } : c.resource.attributes;
      const decision = policy.decide(c.actor, c.action, c.resource.type, attributes ?? {});
      const outcome = decision.allowed ? 'allow' : 'deny';
      let ok = outcome === c.expect;
      let detail = `${outcome} by ${decision.ruleId ?? 'no rule'}`;
      if (c.rule !== undefined) {
        const effect = effects.get(c.rule);
        if (!effect) {
          ok = false;
          detail += `; the case names rule ${c.rule}, which the bundle does not have`;
        } else if (c.expect === effect) {
          if (decision.ruleId !== c.rule) {
            ok = false;
            detail += `; expected rule ${c.rule} to decide`;
          }
          if (ok) coverage.get(c.rule)!.decides = true;
        } else if (ok) {
          coverage.get(c.rule)!.other = true;
        }
      }
      if (!ok && outcome !== c.expect) detail = `expected ${c.expect}, got ${detail}`;
      results.push({ file, name: c.name, ok, detail });
    }
  }
  const uncovered = [...coverage].filter(([, c]) => !c.decides || !c.other).map(([id]) => id);
  return { results, uncovered };
}
