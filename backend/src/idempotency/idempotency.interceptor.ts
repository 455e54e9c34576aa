import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { AppConfig } from '../config/app-config.js';
import { ProblemFactory } from '../errors/problem.filter.js';
import { authenticatedUserOf } from '../auth/current-user.decorator.js';
import { OPERATION_METADATA } from '../contract/contract-operation.decorator.js';
import { onTurnEnded, turnOf } from '../generation/turn-context.js';
import { RepliesService } from '../generation/replies.service.js';
import { IdempotencyService, type IdempotencyBegin } from './idempotency.service.js';

// An in-flight claim older than any turn can live belonged to a process that died.
const STALE_MARGIN_MS = 15_000;

/**
 * `Idempotency-Key` on the generation routes, outermost: the same key with the same request
 * replays the first outcome (as JSON, or by following the reply's stream), while it is in flight
 * answers 409, with another request 422. A request that failed before storing anything gives its
 * key back, so retrying it is safe.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly config: AppConfig,
    private readonly idempotency: IdempotencyService,
    private readonly problems: ProblemFactory,
    private readonly replies: RepliesService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<Request>();
    const key = this.idempotency.parseKey(request.headers['idempotency-key']);
    const user = authenticatedUserOf(request);
    if (key === undefined || !user) return next.handle();
    const operationId = this.reflector.get<string>(OPERATION_METADATA, context.getHandler());
    return from(this.run(request, http.getResponse<Response>(), user.id, key, operationId, next));
  }

  private async run(
    request: Request,
    response: Response,
    userId: string,
    key: string,
    operationId: string,
    next: CallHandler,
  ): Promise<unknown> {
    const params = Object.fromEntries(Object.entries(request.params).map(([name, value]) => [name, String(value)]));
    const fingerprint = this.idempotency.fingerprint(operationId, params, request.body ?? null);
    const begun = await this.idempotency.begin(userId, key, fingerprint, {
      staleInFlightMs: this.config.resilience.turnTimeoutMs + STALE_MARGIN_MS,
    });
    if (begun.kind === 'replay') return this.replay(begun, userId, request, response);
    // Stored before the client hears of the outcome, so a retry sent the moment it arrives replays.
    let stored = false;
    onTurnEnded(request, async (turn, outcome) => {
      await this.idempotency.attachMessage(begun.recordId, turn.init.assistantMessage.id);
      await this.idempotency.complete(begun.recordId, outcome.status, outcome.body);
      stored = true;
    });
    try {
      const value = await lastValueFrom(next.handle(), { defaultValue: undefined });
      if (!stored) await this.idempotency.complete(begun.recordId, 201, turnOf(request)?.result ?? null);
      return value;
    } catch (error) {
      const turn = turnOf(request);
      if (!turn) {
        await this.idempotency.abandon(begun.recordId);
      } else if (!stored) {
        // The user's message is stored: the outcome, failure included, is what a retry gets.
        const { problem } = this.problems.build(error, request);
        await this.idempotency.attachMessage(begun.recordId, turn.init.assistantMessage.id);
        await this.idempotency.complete(begun.recordId, problem.status, problem);
      }
      throw error;
    }
  }

  private async replay(
    begun: Extract<IdempotencyBegin, { kind: 'replay' }>,
    userId: string,
    request: Request,
    response: Response,
  ): Promise<void> {
    const chatId = request.params.chatId;
    const wantsStream = (request.headers.accept ?? '').includes('text/event-stream');
    if (wantsStream && begun.messageId && typeof chatId === 'string') {
      // The reply's final state (or its progress, if it is still running) as a stream.
      return this.replies.follow(userId, chatId, begun.messageId, request, response);
    }
    const isProblem = begun.status >= 400;
    const body = begun.body as { retryAfterSeconds?: number | null } | null;
    if (isProblem && typeof body?.retryAfterSeconds === 'number')
      response.setHeader('Retry-After', String(body.retryAfterSeconds));
    response
      .status(begun.status)
      .type(isProblem ? 'application/problem+json' : 'application/json')
      .send(JSON.stringify(begun.body));
  }
}
