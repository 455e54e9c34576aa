import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller.js';
import { MigrationsHealthIndicator } from './migrations.health.js';
import { DatabaseHealthIndicator } from '../database/database.health.js';
import { LifecycleHealthIndicator } from '../lifecycle/lifecycle.health.js';
import { ProvidersHealthIndicator } from '../providers/providers.health.js';

@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController],
  providers: [MigrationsHealthIndicator, ProvidersHealthIndicator, DatabaseHealthIndicator, LifecycleHealthIndicator],
})
export class HealthModule {}
