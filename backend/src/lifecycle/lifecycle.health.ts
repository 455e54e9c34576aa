import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { ShutdownService } from './shutdown.service.js';
import { LocalTurns } from './local-turns.js';

/** Down while the instance drains for shutdown, so load balancers stop sending it work. */
@Injectable()
export class LifecycleHealthIndicator {
  constructor(
    private readonly shutdown: ShutdownService,
    private readonly local: LocalTurns,
    private readonly indicators: HealthIndicatorService,
  ) {}

  check(key: string) {
    const indicator = this.indicators.check(key);
    const details = { draining: this.shutdown.draining, turnsInFlight: this.local.size };
    return this.shutdown.draining ? indicator.down(details) : indicator.up(details);
  }
}
