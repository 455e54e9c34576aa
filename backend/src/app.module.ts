import { Module, type DynamicModule, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { AppConfig } from './config/app-config.js';
import { ConfigModule } from './config/config.module.js';
import { DatabaseModule } from './database/database.module.js';
import { I18nModule } from './i18n/i18n.module.js';
import { ContractModule } from './contract/contract.module.js';
import { ErrorsModule } from './errors/errors.module.js';
import { AuthModule } from './auth/auth.module.js';
import { UsersModule } from './users/users.module.js';
import { CharactersModule } from './characters/characters.module.js';
import { ChatsModule } from './chats/chats.module.js';
import { PersonasModule } from './personas/personas.module.js';
import { BillingModule } from './billing/billing.module.js';
import { RateLimitModule } from './rate-limit/rate-limit.module.js';
import { SharedStateModule } from './shared-state/shared-state.module.js';
import { HealthModule } from './health/health.module.js';
import { ProvidersModule } from './providers/providers.module.js';
import { GenerationModule } from './generation/generation.module.js';
import { ToolsModule } from './tools/tools.module.js';
import { LifecycleModule } from './lifecycle/lifecycle.module.js';
import { IdempotencyModule } from './idempotency/idempotency.module.js';
import { ModerationModule } from './moderation/moderation.module.js';
import { TelemetryModule } from './telemetry/telemetry.module.js';
import { RealtimeEventsModule } from './realtime/realtime-events.module.js';
import { RealtimeModule } from './realtime/realtime.module.js';
import { LoggingModule, type LogOutput } from './telemetry/logging/logging.module.js';
import { RequestLogMiddleware } from './telemetry/logging/request-log.middleware.js';
import { EdgeMiddleware } from './http/edge.middleware.js';
import { JsonBodyMiddleware } from './http/json-body.middleware.js';
import { FrontendMiddleware } from './web/frontend.middleware.js';

@Module({})
export class AppModule implements NestModule {
  static async forRoot(config: AppConfig, logOutput: LogOutput = {}): Promise<DynamicModule> {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggingModule.forRoot(logOutput),
        DatabaseModule,
        await I18nModule.forRoot(),
        ContractModule,
        ErrorsModule,
        TelemetryModule,
        RealtimeEventsModule,
        AuthModule,
        UsersModule,
        BillingModule,
        SharedStateModule,
        RateLimitModule,
        CharactersModule,
        PersonasModule,
        ChatsModule,
        IdempotencyModule,
        ModerationModule,
        LifecycleModule,
        ProvidersModule,
        ToolsModule,
        GenerationModule,
        RealtimeModule,
        HealthModule,
      ],
      providers: [JsonBodyMiddleware, ...(config.server.serveFrontend ? [FrontendMiddleware] : [])],
    };
  }

  constructor(private readonly config: AppConfig) {}

  configure(consumer: MiddlewareConsumer): void {
    // Two router layers on every request: its log context and line first (so that what the edge
    // refuses is logged with the request's id), then the edge.
    consumer.apply(RequestLogMiddleware, EdgeMiddleware).forRoutes('{*path}');
    if (this.config.server.serveFrontend) consumer.apply(FrontendMiddleware).forRoutes('{*path}');
  }
}
