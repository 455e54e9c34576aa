import { Global, Module } from '@nestjs/common';
import { TurnRateLimiter } from './turn-rate-limiter.js';
import { TurnRateLimitInterceptor } from './turn-rate-limit.interceptor.js';

@Global()
@Module({
  providers: [TurnRateLimiter, TurnRateLimitInterceptor],
  exports: [TurnRateLimiter, TurnRateLimitInterceptor],
})
export class RateLimitModule {}
