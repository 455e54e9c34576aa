import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { sessionOf } from '../auth/current-user.decorator.js';
import { requestIdOf } from '../http/request-id.js';
import type { TurnRequest } from './turn-command.js';

/** What a turn needs of the HTTP request, read once here so that no stage sees the request. */
export const TurnRequestOf = createParamDecorator((_data: unknown, context: ExecutionContext): TurnRequest => {
  const request = context.switchToHttp().getRequest<Request>();
  const session = sessionOf(request);
  if (!session) throw new Error('TurnRequestOf used on a public route');
  const language = request.headers['accept-language'];
  return {
    userId: session.userId,
    tokenVersion: session.tokenVersion,
    requestId: requestIdOf(request),
    acceptLanguage: typeof language === 'string' ? language : undefined,
    idempotencyKey: request.headers['idempotency-key'],
    lastEventId: request.headers['last-event-id'],
    debugFault: request.headers['x-debug-force-error'],
  };
});
