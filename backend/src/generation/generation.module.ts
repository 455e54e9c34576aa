import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { ChatsModule } from '../chats/chats.module.js';
import { ToolsModule } from '../tools/tools.module.js';
import { ChatBreakers } from '../resilience/chat-breakers.js';
import { RetryPolicy } from '../resilience/retry-policy.js';
import { ReplyCache } from '../resilience/reply-cache/reply-cache.js';
import { DebugFaults } from './debug-faults.js';
import { GenerationController } from './generation.controller.js';
import { InterruptedTurnsService } from './interrupted-turns.service.js';
import { ManifestService } from './manifest.service.js';
import { TurnStore } from './turn.store.js';
import { Checkpoints } from './checkpoints.js';
import { GenerationMetrics } from './generation.metrics.js';
import { RepliesService } from './replies.service.js';
import { TurnPipeline } from './turn-pipeline.js';
import { PrepareStage } from './stages/prepare.stage.js';
import { PersistBeforeStage } from './stages/persist-before.stage.js';
import { ProviderLoopStage } from './stages/provider-loop.stage.js';
import { PersistAfterStage } from './stages/persist-after.stage.js';
import { PublishStage } from './stages/publish.stage.js';
import { TurnAdmission } from './admission/turn-admission.js';

@Module({
  imports: [AuthModule, ChatsModule, ToolsModule],
  controllers: [GenerationController],
  providers: [
    TurnPipeline,
    PrepareStage,
    PersistBeforeStage,
    ProviderLoopStage,
    PersistAfterStage,
    PublishStage,
    TurnStore,
    Checkpoints,
    GenerationMetrics,
    RepliesService,
    ManifestService,
    DebugFaults,
    InterruptedTurnsService,
    ChatBreakers,
    RetryPolicy,
    ReplyCache,
    TurnAdmission,
  ],
  exports: [ChatBreakers, TurnPipeline, RepliesService],
})
export class GenerationModule {}
