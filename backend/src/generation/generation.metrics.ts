import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { Counter, Gauge, Histogram } from 'prom-client';
import { DataSource } from 'typeorm';
import { MetricsService } from '../telemetry/metrics.service.js';
import { ProviderRegistry } from '../providers/provider-registry.js';
import { ChatBreakers } from '../resilience/chat-breakers.js';
import { LocalTurns } from '../lifecycle/local-turns.js';
import { poolStats } from '../database/sql.js';

const BREAKER_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

/** What a chat turn, the providers, the breakers and the database pool look like from outside. */
@Injectable()
export class GenerationMetrics {
  readonly turnDuration: Histogram<'outcome' | 'provider'>;
  readonly firstToken: Histogram<'provider'>;
  readonly retries: Counter<'reason'>;
  readonly providerCalls: Counter<'provider' | 'outcome'>;
  readonly providerErrors: Counter<'provider' | 'code'>;
  readonly tokensCharged: Counter;

  constructor(
    metrics: MetricsService,
    registry: ProviderRegistry,
    breakers: ChatBreakers,
    local: LocalTurns,
    @InjectDataSource() dataSource: DataSource,
  ) {
    const registers = [metrics.registry];
    this.turnDuration = new Histogram({
      name: 'parley_turn_duration_seconds',
      help: 'Chat turns from the persisted user message to the end, by outcome and provider',
      labelNames: ['outcome', 'provider'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
      registers,
    });
    this.firstToken = new Histogram({
      name: 'parley_turn_first_token_seconds',
      help: 'Time from the start of a turn to the first text of its reply',
      labelNames: ['provider'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15],
      registers,
    });
    this.retries = new Counter({
      name: 'parley_turn_retries_total',
      help: 'Retries of chat turns, by the failure that caused them',
      labelNames: ['reason'] as const,
      registers,
    });
    this.providerCalls = new Counter({
      name: 'parley_provider_calls_total',
      help: 'Calls to LLM providers, by outcome',
      labelNames: ['provider', 'outcome'] as const,
      registers,
    });
    this.providerErrors = new Counter({
      name: 'parley_provider_errors_total',
      help: 'Failed provider calls, by error code',
      labelNames: ['provider', 'code'] as const,
      registers,
    });
    this.tokensCharged = new Counter({
      name: 'parley_tokens_charged_total',
      help: 'Tokens charged for replies',
      registers,
    });
    new Gauge({
      name: 'parley_provider_breaker_state',
      help: 'Circuit breaker state per provider (0 closed, 1 half-open, 2 open)',
      labelNames: ['provider'] as const,
      registers,
      collect() {
        for (const health of registry.health()) this.set({ provider: health.name }, BREAKER_VALUE[health.breakerState]);
      },
    });
    new Gauge({
      name: 'parley_chat_breakers_open',
      help: 'Chats whose circuit breaker is not closed',
      registers,
      async collect() {
        // Shared by every instance: the same figure from each (read from the shared store).
        this.set(await breakers.openCount().catch(() => 0));
      },
    });
    new Gauge({
      name: 'parley_turns_in_flight',
      help: 'Chat turns running on this instance',
      registers,
      collect() {
        this.set(local.size);
      },
    });
    new Gauge({
      name: 'parley_db_pool_connections',
      help: 'Database pool connections of this instance, by state',
      labelNames: ['state'] as const,
      registers,
      collect() {
        for (const [state, count] of Object.entries(poolStats(dataSource))) this.set({ state }, count);
      },
    });
  }
}
