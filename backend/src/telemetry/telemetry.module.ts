import { Global, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { MetricsController } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';
import { TraceRouteInterceptor } from './tracing/trace-route.interceptor.js';

@Global()
@Module({
  controllers: [MetricsController],
  providers: [MetricsService, { provide: APP_INTERCEPTOR, useClass: TraceRouteInterceptor }],
  exports: [MetricsService],
})
export class TelemetryModule {}
