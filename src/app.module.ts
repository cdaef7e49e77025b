import { Module, type DynamicModule } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ArtifactsModule } from './artifacts/artifacts.module.js';
import { AuditModule } from './audit/audit.module.js';
import { DomainEventsModule } from './common/domain-events.js';
import { LiveModule } from './live/live.module.js';
import { createRootLogger, ROOT_LOGGER } from './common/logging.js';
import { ConfigModule } from './config/config.module.js';
import type { AppConfig } from './config/config.schema.js';
import { DatabaseModule } from './database/database.module.js';
import { AuthGuard } from './identity/auth.guard.js';
import { IdentityModule } from './identity/identity.module.js';
import { OpsModule } from './ops/ops.module.js';
import { PolicyGuard } from './policy/policy.guard.js';
import { PolicyModule } from './policy/policy.module.js';
import { RunsModule } from './runs/runs.module.js';
import { SharingModule } from './sharing/sharing.module.js';
import { SkillsModule } from './skills/skills.module.js';
import { WebModule } from './web/web.module.js';

@Module({})
export class AppModule {
  /** `config.databaseUrl` must be resolved (main.ts starts embedded PostgreSQL when it is not). */
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [ConfigModule.forRoot(config), DatabaseModule, DomainEventsModule, AuditModule, PolicyModule, IdentityModule, SkillsModule, RunsModule, ArtifactsModule, SharingModule, LiveModule, OpsModule, WebModule],
      // Order matters: authenticate first, then decide.
      providers: [
        { provide: ROOT_LOGGER, useFactory: () => createRootLogger(config) },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useClass: PolicyGuard },
      ],
    };
  }
}
