import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService, SYSTEM_ACTOR } from '../audit/audit.service.js';
import { APP_CONFIG, type AppConfig } from '../config/config.schema.js';
import { newId } from '../common/ids.js';
import { AppError, NotFoundError } from '../common/problem.js';
import type { UserActor } from '../identity/actor.js';
import { ActivePolicy } from './active-policy.entity.js';
import { loadBundle, PolicyInvalidError, type LoadedBundle } from './bundle.js';
import { PolicyVersion } from './policy-version.entity.js';
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
      const version = await this.insertVersion(manager, orgId, this.defaultBundle, null, null);
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

  async byId(orgId: string, versionId: string): Promise<PolicyVersion> {
    const version = await this.db.getRepository(PolicyVersion).findOneBy({ id: versionId, orgId });
    if (!version) throw new NotFoundError('Policy version', versionId);
    return version;
  }

  async active(orgId: string): Promise<ActivePolicyView> {
    await this.activeVersionId(orgId);
    return activeView(await this.loadActive(this.db.manager, orgId));
  }

  /** Stores the bundle as the next version and activates it. Re-sending the active bundle changes nothing. */
  async put(actor: UserActor, loaded: LoadedBundle): Promise<ActivePolicyView> {
    await this.activeVersionId(actor.orgId);
    return this.db.transaction(async (manager) => {
      await this.lockOrg(manager, actor.orgId);
      const active = await this.loadActive(manager, actor.orgId);
      if (active.policyVersion!.hash === loaded.hash) return activeView(active);
      const version = await this.insertVersion(manager, actor.orgId, loaded, active.policyVersion!.version, actor.id);
      await manager.getRepository(ActivePolicy).update({ orgId: actor.orgId }, { versionId: version.id, activatedAt: new Date(), activatedBy: actor.id });
      await this.audit.record(manager, {
        orgId: actor.orgId,
        actor,
        action: 'policy.update',
        resource: { type: 'Policy', id: String(version.version) },
        details: { version: version.version, hash: version.hash, parentVersion: version.parentVersion, rules: loaded.bundle.rules.length },
      });
      return activeView(await this.loadActive(manager, actor.orgId));
    });
  }

  /** Rollback: a stored version becomes active again; no new version is made. */
  async activate(actor: UserActor, versionNumber: number): Promise<ActivePolicyView> {
    await this.activeVersionId(actor.orgId);
    return this.db.transaction(async (manager) => {
      await this.lockOrg(manager, actor.orgId);
      const version = await manager.getRepository(PolicyVersion).findOneBy({ orgId: actor.orgId, version: versionNumber });
      if (!version) throw new NotFoundError('Policy version', String(versionNumber));
      const previous = await this.loadActive(manager, actor.orgId);
      await manager.getRepository(ActivePolicy).update({ orgId: actor.orgId }, { versionId: version.id, activatedAt: new Date(), activatedBy: actor.id });
      await this.audit.record(manager, {
        orgId: actor.orgId,
        actor,
        action: 'policy.activate',
        resource: { type: 'Policy', id: String(version.version) },
        details: { version: version.version, hash: version.hash, previousVersion: previous.policyVersion!.version },
      });
      return activeView(await this.loadActive(manager, actor.orgId));
    });
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

  private async insertVersion(manager: EntityManager, orgId: string, loaded: LoadedBundle, parent: number | null, createdBy: string | null) {
    const [{ next }] = await manager.query('SELECT COALESCE(max(version), 0) + 1 AS next FROM policy_versions WHERE org_id = $1', [orgId]);
    const version = manager.getRepository(PolicyVersion).create({
      id: newId(),
      orgId,
      version: next,
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
