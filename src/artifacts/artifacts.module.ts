import { Module } from '@nestjs/common';
import { IdentityModule } from '../identity/identity.module.js';
import { RunsModule } from '../runs/runs.module.js';
import { ArtifactsController } from './artifacts.controller.js';
import { ArtifactsService } from './artifacts.service.js';

@Module({
  imports: [IdentityModule, RunsModule],
  controllers: [ArtifactsController],
  providers: [ArtifactsService],
  exports: [ArtifactsService],
})
export class ArtifactsModule {}
