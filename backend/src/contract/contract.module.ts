import { Global, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { ContractService } from './contract.service.js';
import { ContractInterceptor } from './contract.interceptor.js';
import { ContractController } from './contract.controller.js';
import { RealtimeContract } from './realtime-contract.js';

@Global()
@Module({
  controllers: [ContractController],
  providers: [
    { provide: ContractService, useFactory: () => new ContractService() },
    { provide: RealtimeContract, useFactory: () => new RealtimeContract() },
    { provide: APP_INTERCEPTOR, useClass: ContractInterceptor },
  ],
  exports: [ContractService, RealtimeContract],
})
export class ContractModule {}
