import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Response } from 'express';
import { from, switchMap, type Observable } from 'rxjs';
import { AppError } from '../errors/app-error.js';
import { authenticatedUserOf } from '../auth/current-user.decorator.js';
import { TurnRateLimiter, type TurnQuota } from './turn-rate-limiter.js';

/**
 * At the edge of the operations that start turns: takes one turn from the caller's quota, says
 * what is left in the IETF `RateLimit-Policy` and `RateLimit` headers (on success and on 429
 * alike), and refuses the request with `429 rate_limited` and `Retry-After` past the quota.
 */
@Injectable()
export class TurnRateLimitInterceptor implements NestInterceptor {
  constructor(private readonly limiter: TurnRateLimiter) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const user = authenticatedUserOf(context.switchToHttp().getRequest());
    if (!user || !this.limiter.enabled) return next.handle();
    return from(this.limiter.take(user.id)).pipe(
      switchMap((quota) => {
        setRateLimitHeaders(context.switchToHttp().getResponse<Response>(), quota);
        if (!quota.allowed) throw new AppError('rate_limited', { retryAfterSeconds: quota.resetSeconds });
        return next.handle();
      }),
    );
  }
}

export function setRateLimitHeaders(response: Response, quota: TurnQuota): void {
  response.setHeader('RateLimit-Policy', `"turns";q=${quota.limit};w=${quota.windowSeconds}`);
  response.setHeader('RateLimit', `"turns";r=${quota.remaining};t=${quota.resetSeconds}`);
}
