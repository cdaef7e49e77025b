import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module.js';
import { IdentityModule } from '../identity/identity.module.js';
import { OpsModule } from '../ops/ops.module.js';
import { RunsModule } from '../runs/runs.module.js';
import { SharingModule } from '../sharing/sharing.module.js';
import { LiveGateway } from './live.gateway.js';

/** The Socket.IO namespace `/live`: runs, artifacts and links followed as they change. */
@Module({
  imports: [IdentityModule, RunsModule, ArtifactsModule, SharingModule, OpsModule],
  providers: [LiveGateway],
})
export class LiveModule {}
