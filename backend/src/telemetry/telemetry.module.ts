import { Global, Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { MetricsController } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';
import { HttpMetricsMiddleware } from './http-metrics.middleware.js';
import { TraceRouteInterceptor } from './tracing/trace-route.interceptor.js';

@Global()
@Module({
  controllers: [MetricsController],
  providers: [MetricsService, HttpMetricsMiddleware, { provide: APP_INTERCEPTOR, useClass: TraceRouteInterceptor }],
  exports: [MetricsService, HttpMetricsMiddleware],
})
export class TelemetryModule {}
