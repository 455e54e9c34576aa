import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module.js';
import { GenerationModule } from '../generation/generation.module.js';
import { RealtimeFrames } from './realtime-frames.js';
import { RealtimeGateway } from './realtime.gateway.js';
import { RealtimeHub } from './realtime-hub.js';

/** The WebSocket channel (`/api/v1/realtime`): the gateway, this instance's sockets, their frames. */
@Module({
  imports: [AuthModule, GenerationModule],
  providers: [RealtimeGateway, RealtimeHub, RealtimeFrames],
  exports: [RealtimeHub],
})
export class RealtimeModule {}
