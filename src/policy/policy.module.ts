import { Global, Module } from '@nestjs/common';
import { IdentityModule } from '../identity/identity.module.js';
import { PoliciesController } from './policies.controller.js';
import { PolicyResources } from './policy-resources.js';
import { PolicyVersionsService } from './policy-versions.service.js';
import { PolicyGuard } from './policy.guard.js';
import { PolicyService } from './policy.service.js';

@Global()
@Module({
  imports: [IdentityModule],
  controllers: [PoliciesController],
  providers: [PolicyService, PolicyVersionsService, PolicyGuard, PolicyResources],
  exports: [PolicyService, PolicyGuard, PolicyResources],
})
export class PolicyModule {}
