import { Module } from '@nestjs/common';
import { ChatsModule } from '../chats/chats.module.js';
import { ChatBreakers } from '../resilience/chat-breakers.js';
import { ChatBreakerInterceptor } from '../resilience/chat-breaker.interceptor.js';
import { RetryInterceptor } from '../resilience/retry.interceptor.js';
import { IdempotencyInterceptor } from '../idempotency/idempotency.interceptor.js';
import { DebugFaults } from './debug-faults.js';
import { GenerationController } from './generation.controller.js';
import { GenerationService } from './generation.service.js';
import { InterruptedTurnsService } from './interrupted-turns.service.js';
import { ManifestService } from './manifest.service.js';
import { TurnRateLimiter } from './turn-rate-limiter.js';
import { TurnStore } from './turn-store.js';
import { Checkpoints } from './checkpoints.js';
import { GenerationMetrics } from './generation.metrics.js';
import { RepliesService } from './replies.service.js';

@Module({
  imports: [ChatsModule],
  controllers: [GenerationController],
  providers: [
    GenerationService,
    TurnStore,
    Checkpoints,
    GenerationMetrics,
    RepliesService,
    ManifestService,
    TurnRateLimiter,
    DebugFaults,
    InterruptedTurnsService,
    ChatBreakers,
    ChatBreakerInterceptor,
    RetryInterceptor,
    IdempotencyInterceptor,
  ],
  exports: [ChatBreakers],
})
export class GenerationModule {}
