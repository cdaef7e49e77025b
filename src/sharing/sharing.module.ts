import { Module } from '@nestjs/common';
import { ArtifactsModule } from '../artifacts/artifacts.module.js';
import { SharingController } from './sharing.controller.js';
import { SharingService } from './sharing.service.js';

@Module({
  imports: [ArtifactsModule],
  controllers: [SharingController],
  providers: [SharingService],
})
export class SharingModule {}
