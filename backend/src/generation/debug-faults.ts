import { Injectable, Logger } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { classifyDatabaseError } from '../errors/database-errors.js';
import { ProviderError } from '../providers/provider.port.js';
import { markForced } from '../resilience/breaker-errors.js';

export const DEBUG_FAULTS = [
  'duplicate_statement',
  'timeout',
  'breaker',
  'provider_429',
  'provider_503',
  'db_unavailable',
  // The reply is cut at the length limit (finishReason max_tokens), so Continue can be tried.
  'max_tokens',
] as const;
export type DebugFault = (typeof DEBUG_FAULTS)[number];

/** The length limit the `max_tokens` fault asks the provider for: a few words. */
export const DEBUG_MAX_TOKENS = 8;

/**
 * Development fault injection through `X-Debug-Force-Error`, so the UI's failure paths can be
 * driven on demand. Honoured only when DEBUG_FAULTS is on outside production; otherwise the
 * header is ignored with a warning.
 */
@Injectable()
export class DebugFaults {
  private readonly logger = new Logger(DebugFaults.name);
  private warned = false;

  constructor(private readonly config: AppConfig) {}

  /** The fault an `X-Debug-Force-Error` header asks for, when faults are honoured here. */
  requested(value: string | string[] | undefined): DebugFault | undefined {
    if (typeof value !== 'string' || value === '') return undefined;
    if (!this.config.generation.debugFaults) {
      if (!this.warned) this.logger.warn('X-Debug-Force-Error ignored: DEBUG_FAULTS is off (or production)');
      this.warned = true;
      return undefined;
    }
    return (DEBUG_FAULTS as readonly string[]).includes(value) ? (value as DebugFault) : undefined;
  }

  /** Faults that strike before anything is persisted. */
  beforeTurn(fault: DebugFault | undefined): void {
    if (fault === 'db_unavailable') throw new AppError('database_unavailable', { retryAfterSeconds: 5 });
    if (fault === 'duplicate_statement') {
      // What a pooler in transaction mode answers to a named prepared statement.
      const driverError = Object.assign(new Error('prepared statement "s0" already exists'), { code: '42P05' });
      throw (
        classifyDatabaseError(new QueryFailedError('EXECUTE s0', [], driverError)) ?? new AppError('internal_error')
      );
    }
  }

  /**
   * Faults that replace the provider's answer on every attempt of the turn. Marked as forced, so
   * no breaker (the provider's or the chat's) counts them against a real upstream.
   */
  providerFailure(fault: DebugFault | undefined, provider: string): Error | undefined {
    const error = this.forcedProviderFailure(fault, provider);
    return error && markForced(error);
  }

  private forcedProviderFailure(fault: DebugFault | undefined, provider: string): Error | undefined {
    switch (fault) {
      case 'provider_429':
        return new ProviderError('provider_rate_limited', provider, {
          retryable: true,
          retryAfterMs: 1000,
          status: 429,
        });
      case 'provider_503':
        return new ProviderError('provider_unavailable', provider, { retryable: true, status: 503 });
      case 'timeout':
        return new AppError('turn_timeout');
      default:
        return undefined;
    }
  }
}
