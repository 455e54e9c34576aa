import { Global, Module } from '@nestjs/common';
import { LocalTurns } from './local-turns.js';
import { ShutdownService } from './shutdown.service.js';

/** This instance's own state: the turns it runs, and whether it is shutting down. */
@Global()
@Module({
  providers: [LocalTurns, ShutdownService],
  exports: [LocalTurns, ShutdownService],
})
export class LifecycleModule {}
