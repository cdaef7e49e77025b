import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module.js';
import { IdentityModule } from '../identity/identity.module.js';
import { ShareViewController, SharingController } from './sharing.controller.js';
import { SharingService } from './sharing.service.js';

@Module({
  imports: [ArtifactsModule, IdentityModule],
  controllers: [SharingController, ShareViewController],
  providers: [SharingService],
  exports: [SharingService],
})
export class SharingModule {}
