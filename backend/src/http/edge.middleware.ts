import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../errors/app-error.js';
import { ContractService } from '../contract/contract.service.js';
import { MetricsService } from '../telemetry/metrics.service.js';
import { JsonBodyMiddleware } from './json-body.middleware.js';
import { requestIdOf } from './request-id.js';
import { requestPath } from './request-path.js';

// The API's own space, matched case-insensitively (Express routes so), Swagger UI aside.
const API_SPACE = /^\/(api|health|metrics|openapi\.(json|yaml))(\/|$)/i;

/**
 * What every request goes through before routing, in this order: its id echoed as
 * `X-Request-Id`, the contract's methods and paths, conditional headers dropped, the HTTP
 * metrics, and the JSON body. One middleware rather than five: each middleware Nest mounts is a
 * router layer that Express matches, and Nest wraps, on every request.
 */
@Injectable()
export class EdgeMiddleware implements NestMiddleware {
  constructor(
    private readonly contract: ContractService,
    private readonly metrics: MetricsService,
    private readonly jsonBody: JsonBodyMiddleware,
  ) {}

  use(request: Request, response: Response, next: NextFunction): Promise<void> {
    response.setHeader('X-Request-Id', requestIdOf(request));
    this.assertDeclared(request);
    dropConditionalHeaders(request);
    this.observe(request, response);
    return this.jsonBody.use(request, response, next);
  }

  /**
   * In the API's space only what the contract declares is served, exactly: the contract's methods
   * on its paths, spelt as it spells them. Express would otherwise answer `HEAD` from the `GET`
   * handler, `OPTIONS` with an `Allow` list, and a path in another case or with a trailing slash
   * from the route it resembles (`DELETE /API/V1/CHATS/{id}/` deleted the chat). Everything else
   * there is `404 route_not_found`, as the contract says.
   */
  private assertDeclared(request: Request): void {
    const path = requestPath(request);
    if (API_SPACE.test(path) && !this.contract.match(request.method, path)) throw new AppError('route_not_found');
  }

  private observe(request: Request, response: Response): void {
    const stop = this.metrics.httpRequestDuration.startTimer();
    response.once('finish', () => {
      // The route template, never the raw URL: ids would explode the label set.
      const route = (request.route as { path?: string } | undefined)?.path ?? 'unmatched';
      stop({ method: request.method, route: `${request.baseUrl}${route}`, status: String(response.statusCode) });
    });
  }
}

/**
 * The contract declares no validators and no `304`: conditional request headers are ignored.
 * Express would otherwise answer `304` to any GET carrying `If-None-Match: *` (or a matching
 * date), ETag or not.
 */
function dropConditionalHeaders(request: Request): void {
  delete request.headers['if-none-match'];
  delete request.headers['if-modified-since'];
}
