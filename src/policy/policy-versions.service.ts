import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService, SYSTEM_ACTOR } from '../audit/audit.service.js';
import { APP_CONFIG, type AppConfig } from '../config/config.schema.js';
import { newId } from '../common/ids.js';
import { inspectRequestValue } from '../common/validation.pipe.js';
import { DomainEvents } from '../common/domain-events.js';
import { AppError, NotFoundError } from '../common/problem.js';
import type { UserActor } from '../identity/actor.js';
import { ActivePolicy } from './active-policy.entity.js';
import { loadBundle, PolicyInvalidError, type LoadedBundle } from './bundle.js';
import { PolicyVersion } from './policy-version.entity.js';
import { CompiledPolicy } from './policy-engine.js';
import { PolicyResources, publishRevokedLinks, type DeniedLink } from './policy-resources.js';
import type { ActivePolicyView, PolicyVersionView } from './policy.schemas.js';

/** 400 `policy_invalid`, each problem with its path, message and line. */
export function policyInvalid(error: PolicyInvalidError): AppError {
  return new AppError(400, 'policy_invalid', 'Invalid policy bundle', `The bundle has ${error.problems.length} problem(s); see errors`, error.problems);
}

export function parseBundle(input: unknown): LoadedBundle {
  if (typeof input !== 'string' && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    throw new AppError(400, 'policy_invalid', 'Invalid policy bundle', 'Send the bundle as application/yaml text or an application/json object', [
      { path: '', message: 'expected a YAML document or a JSON object' },
    ]);
  }
  // A JSON body reaches here with every key JSON.parse made, `__proto__` included; loadBundle refuses those by path and line.
  const flaw = typeof input === 'object' ? inspectRequestValue(input, 0, 'keep') : null;
  if (flaw) throw new AppError(400, 'policy_invalid', 'Invalid policy bundle', `${flaw.path.join('.') || 'the bundle'} ${flaw.message}`, [{ path: flaw.path.join('.'), message: flaw.message }]);
  try {
    return loadBundle(input);
  } catch (error) {
    if (error instanceof PolicyInvalidError) throw policyInvalid(error);
    throw error;
  }
}

/** Immutable bundle versions per org, and which one is active. */
@Injectable()
export class PolicyVersionsService {
  /** The default bundle, validated once at boot: a broken default stops start-up. */
  readonly defaultBundle: LoadedBundle;

  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(PolicyResources) private readonly resources: PolicyResources,
    @Inject(DomainEvents) private readonly events: DomainEvents,
  ) {
    const file = path.join(config.policiesDir, 'default.yaml');
    this.defaultBundle = loadBundle(readFileSync(file, 'utf8'));
  }

  /** The active version's id; an org that has none gets the default bundle as version 1. */
  async activeVersionId(orgId: string): Promise<string> {
    const [row] = await this.db.query('SELECT version_id FROM active_policies WHERE org_id = $1', [orgId]);
    if (row) return row.version_id as string;
    return this.db.transaction(async (manager) => {
      await this.lockOrg(manager, orgId);
      const existing = await manager.getRepository(ActivePolicy).findOneBy({ orgId });
      if (existing) return existing.versionId;
      const version = await this.insertVersion(manager, orgId, await this.nextVersion(manager, orgId), this.defaultBundle, null, null);
      await manager.getRepository(ActivePolicy).insert({ orgId, versionId: version.id, activatedAt: new Date(), activatedBy: null });
      await this.audit.record(manager, {
        orgId,
        actor: SYSTEM_ACTOR,
        action: 'policy.update',
        resource: { type: 'Policy', id: String(version.version) },
        policy: null,
        details: { version: version.version, hash: version.hash, parentVersion: null, source: 'default bundle' },
      });
      return version.id;
    });
  }

  /** The active version's id as the caller's transaction sees it, the org's policy lock held shared until commit; null while the org has none. */
  async activeVersionIdIn(manager: EntityManager, orgId: string): Promise<string | null> {
    await manager.query('SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))', [`policy:${orgId}`]);
    const [row] = await manager.query('SELECT version_id FROM active_policies WHERE org_id = $1', [orgId]);
    return (row?.version_id as string | undefined) ?? null;
  }

  async byId(orgId: string, versionId: string, manager: EntityManager = this.db.manager): Promise<PolicyVersion> {
    const version = await manager.getRepository(PolicyVersion).findOneBy({ id: versionId, orgId });
    if (!version) throw new NotFoundError('Policy version', versionId);
    return version;
  }

  async active(orgId: string): Promise<ActivePolicyView> {
    await this.activeVersionId(orgId);
    return activeView(await this.loadActive(this.db.manager, orgId));
  }

  /**
   * Stores the bundle as the next version and activates it, revoking in the
   * same transaction every link it no longer allows. Re-sending the active
   * bundle changes nothing. A bundle that would lock the org out is refused.
   */
  put(actor: UserActor, loaded: LoadedBundle): Promise<ActivePolicyView> {
    return this.activation(actor, async (manager) => {
      const active = await this.loadActive(manager, actor.orgId);
      if (active.policyVersion!.hash === loaded.hash) return { view: activeView(active), revoked: [], switched: false };
      const next = await this.nextVersion(manager, actor.orgId);
      const version = await this.insertVersion(manager, actor.orgId, next, loaded, active.policyVersion!.version, actor.id);
      return this.switchTo(manager, actor, version, new CompiledPolicy(String(next), loaded.bundle), 'policy.update', {
        parentVersion: version.parentVersion,
        rules: loaded.bundle.rules.length,
      });
    });
  }

  /** Rollback: a stored version becomes active again (no new version is made), revoking every link it does not allow. */
  activate(actor: UserActor, versionNumber: number): Promise<ActivePolicyView> {
    return this.activation(actor, async (manager) => {
      const version = await manager.getRepository(PolicyVersion).findOneBy({ orgId: actor.orgId, version: versionNumber });
      if (!version) throw new NotFoundError('Policy version', String(versionNumber));
      const previous = await this.loadActive(manager, actor.orgId);
      return this.switchTo(manager, actor, version, new CompiledPolicy(String(version.version), loadBundle(version.source).bundle), 'policy.activate', {
        previousVersion: previous.policyVersion!.version,
      });
    });
  }

  /** Runs an activation in one transaction under the org's policy lock; who listens hears of its revocations after commit. */
  private async activation(actor: UserActor, work: (manager: EntityManager) => Promise<{ view: ActivePolicyView; revoked: DeniedLink[]; switched: boolean }>): Promise<ActivePolicyView> {
    await this.activeVersionId(actor.orgId);
    const { view, revoked, switched } = await this.db.transaction(async (manager) => {
      await this.lockOrg(manager, actor.orgId);
      return work(manager);
    });
    publishRevokedLinks(this.events, actor.orgId, revoked);
    if (switched) this.events.publish('policy.activated', { orgId: actor.orgId, version: view.version });
    return view;
  }

  /** Makes `version` active: refuses a lockout, revokes the links `policy` denies, and audits it as `action`. */
  private async switchTo(manager: EntityManager, actor: UserActor, version: PolicyVersion, policy: CompiledPolicy, action: string, details: Record<string, unknown>) {
    await this.assertNoLockout(manager, actor.orgId, policy, version.version);
    await manager.getRepository(ActivePolicy).update({ orgId: actor.orgId }, { versionId: version.id, activatedAt: new Date(), activatedBy: actor.id });
    const revoked = await this.resources.revokeDeniedLinks(manager, { orgId: actor.orgId }, policy, actor.context);
    await this.audit.record(manager, {
      orgId: actor.orgId,
      actor,
      action,
      resource: { type: 'Policy', id: String(version.version) },
      details: { version: version.version, hash: version.hash, ...details, revokedShares: revoked.length },
    });
    return { view: activeView(await this.loadActive(manager, actor.orgId)), revoked, switched: true };
  }

  /**
   * What PUT would do, without doing it: refuses a lockout the same way, and
   * lists the links activation would revoke, found by the same code.
   */
  async dryRun(actor: UserActor, loaded: LoadedBundle): Promise<DeniedLink[]> {
    await this.activeVersionId(actor.orgId);
    return this.db.transaction('REPEATABLE READ', async (manager) => {
      const next = await this.nextVersion(manager, actor.orgId);
      const policy = new CompiledPolicy(String(next), loaded.bundle);
      await this.assertNoLockout(manager, actor.orgId, policy, next);
      const denied: DeniedLink[] = [];
      for await (const page of this.resources.deniedLinks(manager, { orgId: actor.orgId }, policy)) denied.push(...page);
      return denied;
    });
  }

  /** 409 `policy_lockout` unless some active admin of the org could still update its policy under `policy`. */
  private async assertNoLockout(manager: EntityManager, orgId: string, policy: CompiledPolicy, version: number): Promise<void> {
    const admins = await this.resources.activeAdmins(manager, orgId);
    const decisions = admins.map((admin) => policy.decide(admin, 'update', 'Policy', { orgId, version }));
    if (decisions.some((d) => d.allowed)) return;
    const denied = decisions.find((d) => d.ruleId !== null);
    const why = admins.length === 0 ? 'the org has no active admin' : denied ? `rule ${denied.ruleId} denies it ("${denied.reason}")` : 'no rule allows the admin role to update Policy';
    throw new AppError(
      409,
      'policy_lockout',
      'The bundle would lock the org out',
      `Under this bundle no active admin of the org could change its policy again: ${why}. Keep a rule that allows admins to update Policy, e.g. {id: admins-manage-policies, effect: allow, roles: [admin], actions: [manage], subject: Policy}.`,
      [{ path: 'rules', message: `no rule lets an active admin update Policy: ${why}` }],
    );
  }

  async list(orgId: string, limit: number, before?: number): Promise<{ rows: PolicyVersionView[]; more: boolean }> {
    const activeId = await this.activeVersionId(orgId);
    const qb = this.db.getRepository(PolicyVersion).createQueryBuilder('v').where('v.org_id = :orgId', { orgId }).orderBy('v.version', 'DESC').limit(limit + 1);
    if (before !== undefined) qb.andWhere('v.version < :before', { before });
    const rows = await qb.getMany();
    return {
      more: rows.length > limit,
      rows: rows.slice(0, limit).map((v) => ({
        version: v.version,
        hash: v.hash,
        parentVersion: v.parentVersion,
        createdBy: v.createdBy,
        createdAt: v.createdAt.toISOString(),
        active: v.id === activeId,
      })),
    };
  }

  private loadActive(manager: EntityManager, orgId: string): Promise<ActivePolicy> {
    return manager.getRepository(ActivePolicy).findOneOrFail({ where: { orgId }, relations: { policyVersion: true } });
  }

  private async lockOrg(manager: EntityManager, orgId: string): Promise<void> {
    await manager.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`policy:${orgId}`]);
  }

  private async nextVersion(manager: EntityManager, orgId: string): Promise<number> {
    const [{ next }] = await manager.query('SELECT COALESCE(max(version), 0) + 1 AS next FROM policy_versions WHERE org_id = $1', [orgId]);
    return Number(next);
  }

  private async insertVersion(manager: EntityManager, orgId: string, number: number, loaded: LoadedBundle, parent: number | null, createdBy: string | null) {
    const version = manager.getRepository(PolicyVersion).create({
      id: newId(),
      orgId,
      version: number,
      hash: loaded.hash,
      source: loaded.source,
      parentVersion: parent,
      createdBy,
    });
    await manager.getRepository(PolicyVersion).insert(version);
    return version;
  }
}

function activeView(active: ActivePolicy): ActivePolicyView {
  const v = active.policyVersion!;
  return { version: v.version, hash: v.hash, source: v.source, activatedAt: active.activatedAt.toISOString(), activatedBy: active.activatedBy };
}
