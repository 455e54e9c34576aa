import type { BreakerState, ValidationIssue } from '@parley/api-types';
import { ERROR_SPECS, type ErrorCode } from './error-codes.js';

export interface AppErrorDetails {
  retryAfterSeconds?: number;
  breakerState?: BreakerState;
  errors?: ValidationIssue[];
  /** Developer-facing detail; never user text, never SQL. */
  detail?: string;
  cause?: unknown;
}

/** The only error services throw: a stable code from the taxonomy plus optional details. */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly details: AppErrorDetails = {},
  ) {
    super(details.detail ?? code, { cause: details.cause });
    this.name = 'AppError';
  }

  get status(): number {
    return ERROR_SPECS[this.code].status;
  }

  get retryable(): boolean {
    return ERROR_SPECS[this.code].retryable;
  }
}
