import { Module } from '@nestjs/common';
import { IdentityModule } from '../identity/identity.module.js';
import { SkillsModule } from '../skills/skills.module.js';
import { RunIngestService } from './run-ingest.service.js';
import { RunsController } from './runs.controller.js';
import { RunsService } from './runs.service.js';
import { StallSweeperService } from './stall-sweeper.service.js';

@Module({
  imports: [IdentityModule, SkillsModule],
  controllers: [RunsController],
  providers: [RunsService, RunIngestService, StallSweeperService],
  exports: [RunsService, RunIngestService],
})
export class RunsModule {}
