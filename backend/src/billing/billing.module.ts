import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { TokenLedgerEntity } from './token-ledger.entity.js';
import { BillingService } from './billing.service.js';

@Global()
@Module({
  imports: [TypeOrmModule.forFeature([TokenLedgerEntity])],
  providers: [BillingService],
  exports: [BillingService],
})
export class BillingModule {}
