import { Module } from '@nestjs/common';
import { IdentityModule } from '../identity/identity.module.js';
import { RunsModule } from '../runs/runs.module.js';
import { ArtifactsController } from './artifacts.controller.js';
import { ArtifactsService } from './artifacts.service.js';
import { RunSummariesService } from './run-summaries.service.js';

@Module({
  imports: [IdentityModule, RunsModule],
  controllers: [ArtifactsController],
  providers: [ArtifactsService, RunSummariesService],
  exports: [ArtifactsService],
})
export class ArtifactsModule {}
