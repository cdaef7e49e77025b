import { Global, Module } from '@nestjs/common';
import { AuditChainService } from './audit-chain.service.js';
import { AuditController } from './audit.controller.js';
import { AuditService } from './audit.service.js';

/** The append-only audit log; global because every feature that changes anything records to it. */
@Global()
@Module({
  controllers: [AuditController],
  providers: [AuditService, AuditChainService],
  exports: [AuditService, AuditChainService],
})
export class AuditModule {}
