import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { ChatBreakers } from './chat-breakers.js';
import { DebugFaults } from '../generation/debug-faults.js';

/** Applies the chat's circuit breaker to a generation route: one turn, one outcome. */
@Injectable()
export class ChatBreakerInterceptor implements NestInterceptor {
  constructor(
    private readonly breakers: ChatBreakers,
    private readonly faults: DebugFaults,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<Request>();
    const chatId = request.params.chatId;
    if (typeof chatId !== 'string') return next.handle();
    if (this.faults.requested(request) === 'breaker') this.breakers.trip(chatId);
    this.breakers.assertClosed(chatId);
    return from(this.breakers.execute(chatId, () => lastValueFrom(next.handle(), { defaultValue: undefined })));
  }
}
