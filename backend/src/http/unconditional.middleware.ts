import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/**
 * The contract declares no validators and no `304`: conditional request headers are ignored.
 * Express would otherwise answer `304` to any GET carrying `If-None-Match: *` (or a matching
 * date), ETag or not.
 */
@Injectable()
export class UnconditionalMiddleware implements NestMiddleware {
  use(request: Request, _response: Response, next: NextFunction): void {
    delete request.headers['if-none-match'];
    delete request.headers['if-modified-since'];
    next();
  }
}
