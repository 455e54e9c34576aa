import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import { HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import type { Response } from 'express';
import type { HealthResponse } from '@parley/api-types';
import { Public } from '../auth/public.decorator.js';
import { ContractOperation } from '../contract/contract-operation.decorator.js';
import { MigrationsHealthIndicator } from './migrations.health.js';
import { DatabaseHealthIndicator } from '../database/database.health.js';
import { ProvidersHealthIndicator } from '../providers/providers.health.js';
import { LifecycleHealthIndicator } from '../lifecycle/lifecycle.health.js';
import { ShutdownService } from '../lifecycle/shutdown.service.js';

const DATABASE_TIMEOUT_MS = 2000;

@Controller('health')
@Public()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealthIndicator,
    private readonly migrations: MigrationsHealthIndicator,
    private readonly providers: ProvidersHealthIndicator,
    private readonly lifecycle: LifecycleHealthIndicator,
    private readonly shutdown: ShutdownService,
  ) {}

  @Get('live')
  @ContractOperation('getLiveness')
  live(@Res({ passthrough: true }) response: Response): Promise<HealthResponse> {
    return this.run(response, []);
  }

  @Get('ready')
  @ContractOperation('getReadiness')
  ready(@Res({ passthrough: true }) response: Response): Promise<HealthResponse> {
    return this.run(response, this.dependencies(), { draining: true });
  }

  @Get()
  @ContractOperation('getHealth')
  details(@Res({ passthrough: true }) response: Response): Promise<HealthResponse> {
    return this.run(response, this.dependencies(), { draining: true });
  }

  private dependencies() {
    return [
      () => this.database.check('database', DATABASE_TIMEOUT_MS),
      () => this.migrations.check('migrations', DATABASE_TIMEOUT_MS),
      () => this.providers.check('providers'),
      () => this.lifecycle.check('lifecycle'),
    ];
  }

  // Terminus reports failure by throwing; the contract wants the same body with status 503.
  // While draining, the checks still run (operators see why) but the status says shutting_down.
  private async run(
    response: Response,
    checks: Parameters<HealthCheckService['check']>[0],
    options: { draining?: boolean } = {},
  ): Promise<HealthResponse> {
    let result: HealthCheckResult;
    try {
      result = await this.health.check(checks);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      response.status(503);
      result = error.getResponse() as HealthCheckResult;
    }
    const body = toHealthResponse(result);
    return options.draining && this.shutdown.draining ? { ...body, status: 'shutting_down' } : body;
  }
}

function toHealthResponse(result: HealthCheckResult): HealthResponse {
  return result as HealthResponse;
}
