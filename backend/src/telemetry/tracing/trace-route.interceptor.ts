import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import type { Request } from 'express';
import type { Observable } from 'rxjs';

/**
 * Names the request's server span after the matched route (`POST /api/v1/chats/:chatId/messages`,
 * with `http.route`): the http instrumentation knows only the method, and the route template is
 * known only once Express has matched it. Before the handler, the active span is the request's.
 * Nothing to do when tracing is off.
 */
@Injectable()
export class TraceRouteInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const span = trace.getActiveSpan();
    if (span && context.getType() === 'http') {
      const request = context.switchToHttp().getRequest<Request>();
      const path = (request.route as { path?: unknown } | undefined)?.path;
      if (typeof path === 'string') {
        const route = `${request.baseUrl}${path}`;
        span.setAttribute('http.route', route);
        span.updateName(`${request.method} ${route}`);
      }
    }
    return next.handle();
  }
}
