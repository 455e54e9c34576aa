import { Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { BrokenCircuitError, CircuitState, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import type { BreakerState } from '@parley/api-types';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { countsAgainstBreaker } from '../resilience/breaker-errors.js';
import { failureRateBreaker } from '../resilience/failure-rate-breaker.js';
import { ProviderError, type LlmProvider } from './provider.port.js';
import { every } from '../lifecycle/every.js';
import { inSpan } from '../telemetry/tracing/spans.js';

export const LLM_PROVIDERS = Symbol('LLM_PROVIDERS');

export type ProviderStatus = 'healthy' | 'degraded' | 'unhealthy';

export interface ProviderHealth {
  name: string;
  model: string;
  demo: boolean;
  status: ProviderStatus;
  breakerState: BreakerState;
  lastProbeAt: string | null;
  lastProbeLatencyMs: number | null;
  lastErrorCode: string | null;
}

interface Slot {
  provider: LlmProvider;
  breaker: CircuitBreakerPolicy;
  openedAt: number;
  probeFailures: number;
  lastProbeAt: number | null;
  lastProbeLatencyMs: number | null;
  lastErrorCode: string | null;
}

const PROBE_TIMEOUT_MS = 5000;
const STATUS_RANK: Record<ProviderStatus, number> = { healthy: 0, degraded: 1, unhealthy: 2 };

/**
 * The providers in their configured order, each behind its own circuit breaker (a failure rate
 * over a window with a minimum of calls, so one chat's failing turns cannot open it), probed
 * periodically. `ordered()` gives the failover order for a turn: healthiest first, open breakers
 * left out.
 */
@Injectable()
export class ProviderRegistry implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ProviderRegistry.name);
  private readonly slots: Slot[];
  private readonly resetMs: number;
  private stopProbes: (() => void) | undefined;

  constructor(
    providers: LlmProvider[],
    private readonly config: AppConfig,
  ) {
    const { resetMs, ...rate } = config.resilience.providerBreaker;
    this.resetMs = resetMs;
    this.slots = providers.map((provider) => {
      const breaker = circuitBreaker(handleWhen(countsAgainstBreaker), {
        halfOpenAfter: resetMs,
        breaker: failureRateBreaker(rate),
      });
      const slot: Slot = {
        provider,
        breaker,
        openedAt: 0,
        probeFailures: 0,
        lastProbeAt: null,
        lastProbeLatencyMs: null,
        lastErrorCode: null,
      };
      breaker.onBreak(() => {
        slot.openedAt = Date.now();
        this.logger.warn({ event: 'provider_breaker_open', provider: provider.name });
      });
      breaker.onReset(() => this.logger.log({ event: 'provider_breaker_closed', provider: provider.name }));
      return slot;
    });
  }

  onModuleInit(): void {
    const interval = this.config.resilience.probeIntervalMs;
    if (interval > 0) {
      this.stopProbes = every(interval, () => this.probeAll());
      void this.probeAll();
    }
  }

  onApplicationShutdown(): void {
    this.stopProbes?.();
  }

  /** The demo provider standing in for real ones (FALLBACK_MODE=demo): its replies are degraded. */
  isFallback(provider: LlmProvider): boolean {
    return provider.isDemo && this.slots.some((slot) => !slot.provider.isDemo);
  }

  /** Providers to try for a turn, best first. Throws no_provider_available when none is usable. */
  ordered(): LlmProvider[] {
    const usable = this.slots
      .map((slot, index) => ({ slot, index }))
      .filter(({ slot }) => !this.isOpen(slot))
      .sort((a, b) => STATUS_RANK[this.status(a.slot)] - STATUS_RANK[this.status(b.slot)] || a.index - b.index);
    if (usable.length === 0) {
      const waitMs = Math.min(...this.slots.map((slot) => this.remainingOpenMs(slot)));
      throw new AppError('no_provider_available', { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) });
    }
    return usable.map(({ slot }) => slot.provider);
  }

  /**
   * Calls a provider under its breaker, in a span of its own (one per attempt; `attributes` say
   * which attempt of what, from the caller). An open breaker surfaces as provider_unavailable.
   */
  run<T>(provider: LlmProvider, call: () => Promise<T>, attributes: Record<string, string | number | boolean> = {}) {
    return inSpan(
      `provider ${provider.name}`,
      { 'parley.provider': provider.name, 'parley.model': provider.defaultModel, ...attributes },
      () => this.runUnderBreaker(provider, call),
    );
  }

  private async runUnderBreaker<T>(provider: LlmProvider, call: () => Promise<T>): Promise<T> {
    const slot = this.slotOf(provider);
    try {
      const result = await slot.breaker.execute(call);
      slot.lastErrorCode = null;
      return result;
    } catch (error) {
      if (error instanceof BrokenCircuitError) {
        throw new ProviderError('provider_unavailable', provider.name, { retryable: true, detail: 'breaker open' });
      }
      if (error instanceof ProviderError) slot.lastErrorCode = error.code;
      throw error;
    }
  }

  health(): ProviderHealth[] {
    return this.slots.map((slot) => ({
      name: slot.provider.name,
      model: slot.provider.defaultModel,
      demo: slot.provider.isDemo,
      status: this.status(slot),
      breakerState: this.breakerState(slot),
      lastProbeAt: slot.lastProbeAt === null ? null : new Date(slot.lastProbeAt).toISOString(),
      lastProbeLatencyMs: slot.lastProbeLatencyMs,
      lastErrorCode: slot.lastErrorCode,
    }));
  }

  async probeAll(): Promise<void> {
    await Promise.all(this.slots.map((slot) => this.probe(slot)));
  }

  private async probe(slot: Slot): Promise<void> {
    const started = Date.now();
    try {
      await slot.provider.probe(AbortSignal.timeout(PROBE_TIMEOUT_MS));
      slot.probeFailures = 0;
      slot.lastErrorCode = null;
    } catch (error) {
      slot.probeFailures++;
      slot.lastErrorCode = error instanceof ProviderError ? error.code : 'provider_unavailable';
    } finally {
      slot.lastProbeAt = Date.now();
      slot.lastProbeLatencyMs = slot.lastProbeAt - started;
    }
  }

  // From the breaker and the probes only: one failed turn (already counted by the breaker) must
  // not push a provider down the order, or it would never be tried again to prove itself.
  private status(slot: Slot): ProviderStatus {
    if (this.isOpen(slot) || slot.probeFailures >= 2) return 'unhealthy';
    if (slot.probeFailures === 1 || slot.breaker.state === CircuitState.HalfOpen) return 'degraded';
    return 'healthy';
  }

  private breakerState(slot: Slot): BreakerState {
    if (slot.breaker.state === CircuitState.HalfOpen) return 'half_open';
    return slot.breaker.state === CircuitState.Closed ? 'closed' : 'open';
  }

  // Open and still inside its reset time: a half-open probe is allowed once the time is up.
  private isOpen(slot: Slot): boolean {
    return slot.breaker.state === CircuitState.Open && this.remainingOpenMs(slot) > 0;
  }

  private remainingOpenMs(slot: Slot): number {
    return Math.max(0, slot.openedAt + this.resetMs - Date.now());
  }

  private slotOf(provider: LlmProvider): Slot {
    const slot = this.slots.find((s) => s.provider === provider);
    if (!slot) throw new Error(`provider ${provider.name} is not registered`);
    return slot;
  }
}
