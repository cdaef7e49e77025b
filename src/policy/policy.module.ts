import { Global, Module } from '@nestjs/common';
import { PolicyGuard } from './policy.guard.js';
import { PolicyService } from './policy.service.js';

@Global()
@Module({ providers: [PolicyService, PolicyGuard], exports: [PolicyService, PolicyGuard] })
export class PolicyModule {}
