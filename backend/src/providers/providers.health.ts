import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { ProviderRegistry } from './provider-registry.js';

/** Up while at least one provider can take a turn; lists each provider's state. */
@Injectable()
export class ProvidersHealthIndicator {
  constructor(
    private readonly registry: ProviderRegistry,
    private readonly indicators: HealthIndicatorService,
  ) {}

  check(key: string) {
    const indicator = this.indicators.check(key);
    const providers = this.registry.health();
    let usable = true;
    try {
      this.registry.ordered();
    } catch {
      usable = false;
    }
    return usable ? indicator.up({ providers }) : indicator.down({ message: 'no provider available', providers });
  }
}
