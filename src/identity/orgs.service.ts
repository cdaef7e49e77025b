import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { AuditService, SYSTEM_ACTOR, type AuditEntry } from '../audit/audit.service.js';
import { APP_CONFIG, type AppConfig } from '../config/config.schema.js';
import { newId } from '../common/ids.js';
import type { CreateOrgBody } from './identity.schemas.js';
import { Member } from './member.entity.js';
import { memberView } from './members.service.js';
import { Org } from './org.entity.js';
import { PasswordsService } from './passwords.service.js';

export const DEFAULT_ORG = 'default';
export const GENERATED_ADMIN_EMAIL = 'admin@vitrine.local';

/** The first login of an installation, when Vitrine had to make one up. */
export interface GeneratedAdmin {
  email: string;
  password: string;
}

@Injectable()
export class OrgsService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Orgs');
  /** Set once, on the start that created the first admin with a generated password. */
  generatedAdmin: GeneratedAdmin | undefined;

  constructor(
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(PasswordsService) private readonly passwords: PasswordsService,
  ) {}

  /** The new org's log starts with its creation, by the installation admin. */
  async create(actor: AuditEntry['actor'], body: CreateOrgBody) {
    const passwordHash = await this.passwords.hash(body.admin.password);
    return this.db.transaction(async (manager) => {
      const { org, admin } = await this.insertOrgWithAdmin(manager, actor, body.name, { ...body.admin, passwordHash }, false);
      return { id: org.id, name: org.name, createdAt: org.createdAt.toISOString(), admin: memberView({ ...admin, teams: [] }) };
    });
  }

  /** On an empty database: org `default` and its admin, who is also the installation admin. */
  async onApplicationBootstrap(): Promise<void> {
    const email = this.config.adminEmail ?? GENERATED_ADMIN_EMAIL;
    const password = this.config.adminPassword ?? randomBytes(15).toString('base64url');
    const created = await this.db.transaction(async (manager) => {
      // Several instances may start at once on the same empty database.
      await manager.query(`SELECT pg_advisory_xact_lock(hashtextextended('vitrine:bootstrap', 0))`);
      const [{ count }] = await manager.query('SELECT count(*)::int AS count FROM orgs');
      if (count > 0) return false;
      await this.insertOrgWithAdmin(manager, SYSTEM_ACTOR, DEFAULT_ORG, { email, name: 'Administrator', passwordHash: await this.passwords.hash(password) }, true);
      return true;
    });
    if (!created) return;
    this.logger.log(`created org "${DEFAULT_ORG}" and its admin ${email}`);
    if (!this.config.adminPassword) this.generatedAdmin = { email, password };
  }

  private async insertOrgWithAdmin(
    manager: EntityManager,
    actor: AuditEntry['actor'],
    name: string,
    admin: { email: string; name: string; passwordHash: string },
    installationAdmin: boolean,
  ): Promise<{ org: Org; admin: Member }> {
    const org = manager.getRepository(Org).create({ id: newId(), name });
    await manager.getRepository(Org).insert(org);
    const member = manager.getRepository(Member).create({
      id: newId(),
      orgId: org.id,
      email: admin.email,
      name: admin.name,
      role: 'admin',
      passwordHash: admin.passwordHash,
      installationAdmin,
      deactivatedAt: null,
    });
    await manager.getRepository(Member).insert(member);
    await this.audit.record(manager, {
      orgId: org.id,
      actor,
      action: 'org.create',
      resource: { type: 'Org', id: org.id },
      details: { name, admin: { id: member.id, email: member.email } },
    });
    return { org, admin: member };
  }
}
