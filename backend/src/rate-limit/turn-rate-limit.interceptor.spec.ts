import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { jest } from '@jest/globals';
import type { CallHandler } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/internal';
import type { Request, Response } from 'express';
import { lastValueFrom, of } from 'rxjs';
import { setAuthenticatedUser } from '../auth/current-user.decorator.js';
import { loadConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { TurnRateLimiter } from './turn-rate-limiter.js';
import { MemorySharedState } from '../../test/support/memory-shared-state.js';
import { TurnRateLimitInterceptor } from './turn-rate-limit.interceptor.js';

function interceptor(perMinute: string): TurnRateLimitInterceptor {
  return new TurnRateLimitInterceptor(
    new TurnRateLimiter(
      loadConfig({ JWT_SECRET: 'x'.repeat(40), TURN_RATE_LIMIT_PER_MINUTE: perMinute }),
      new MemorySharedState(),
    ),
  );
}

/**
 * One request through the interceptor, on a real Node request and response (Express adds
 * methods to them that the interceptor does not use), in Nest's own execution context. Answers
 * the response's headers, and whether the handler ran or the failure that refused it.
 */
async function call(subject: TurnRateLimitInterceptor, userId: string | null) {
  const socket = new Socket();
  const incoming = new IncomingMessage(socket);
  const request = incoming as Request;
  if (userId) setAuthenticatedUser(request, { id: userId }, 0);
  const response = new ServerResponse(incoming) as Response;
  let handled = 0;
  const next: CallHandler = {
    handle: () => {
      handled++;
      return of('handled');
    },
  };
  let refused: unknown;
  try {
    await lastValueFrom(subject.intercept(new ExecutionContextHost([request, response]), next));
  } catch (error) {
    refused = error;
  }
  socket.destroy();
  return {
    policy: response.getHeader('RateLimit-Policy'),
    limit: response.getHeader('RateLimit'),
    headerNames: response.getHeaderNames(),
    handled,
    refused,
  };
}

describe(TurnRateLimitInterceptor.name, () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-11-28T09:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  describe('intercept', () => {
    it('says the policy and what is left when a turn is allowed', async () => {
      const limits = interceptor('30');

      const first = await call(limits, 'user-1');

      expect(first).toMatchObject({ policy: '"turns";q=30;w=60', limit: '"turns";r=29;t=0', handled: 1 });
      expect(first.refused).toBeUndefined();
    });

    it('counts down per user, and says when a turn frees up once none is left', async () => {
      const limits = interceptor('2');

      expect((await call(limits, 'user-1')).limit).toBe('"turns";r=1;t=0');
      jest.advanceTimersByTime(10_000);
      expect((await call(limits, 'user-1')).limit).toBe('"turns";r=0;t=50');
      expect((await call(limits, 'user-2')).limit).toBe('"turns";r=1;t=0');
    });

    it('refuses with rate_limited, retry after the reset, headers included, when the quota is used up', async () => {
      const limits = interceptor('2');
      await call(limits, 'user-1');
      jest.advanceTimersByTime(10_000);
      await call(limits, 'user-1');
      jest.advanceTimersByTime(5_000);

      const refused = await call(limits, 'user-1');

      expect(refused.handled).toBe(0);
      expect(refused.refused).toBeInstanceOf(AppError);
      expect(refused.refused).toMatchObject({ code: 'rate_limited', status: 429, details: { retryAfterSeconds: 45 } });
      expect(refused).toMatchObject({ policy: '"turns";q=2;w=60', limit: '"turns";r=0;t=45' });
    });

    it('sets no header and limits nothing when the limit is 0 (off)', async () => {
      const limits = interceptor('0');

      for (let i = 0; i < 100; i++) {
        const answered = await call(limits, 'user-1');
        expect(answered).toMatchObject({ headerNames: [], handled: 1, refused: undefined });
      }
    });

    it('lets a request without a signed-in user through untouched (the auth guard answers it)', async () => {
      const limits = interceptor('1');

      for (let i = 0; i < 3; i++) {
        expect(await call(limits, null)).toMatchObject({ headerNames: [], handled: 1, refused: undefined });
      }
      expect((await call(limits, 'user-1')).limit).toBe('"turns";r=0;t=60');
    });
  });
});
