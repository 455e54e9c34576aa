import { Global, Module } from '@nestjs/common';
import { ModerationService } from './moderation.service.js';

// Global: generation, regenerate and the fallback path all moderate through the same service.
@Global()
@Module({
  providers: [ModerationService],
  exports: [ModerationService],
})
export class ModerationModule {}
