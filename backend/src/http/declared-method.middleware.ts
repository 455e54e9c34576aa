import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../errors/app-error.js';
import { ContractService } from '../contract/contract.service.js';
import { requestPath } from './request-path.js';

// The API's own space, matched case-insensitively (Express routes so), Swagger UI aside.
const API_SPACE = /^\/(api|health|metrics|openapi\.(json|yaml))(\/|$)/i;

/**
 * In the API's space only what the contract declares is served, exactly: the contract's methods
 * on its paths, spelt as it spells them. Express would otherwise answer `HEAD` from the `GET`
 * handler, `OPTIONS` with an `Allow` list, and a path in another case or with a trailing slash
 * from the route it resembles (`DELETE /API/V1/CHATS/{id}/` deleted the chat). Everything else
 * there is `404 route_not_found`, as the contract says.
 */
@Injectable()
export class DeclaredMethodMiddleware implements NestMiddleware {
  constructor(private readonly contract: ContractService) {}

  use(request: Request, _response: Response, next: NextFunction): void {
    const path = requestPath(request);
    if (API_SPACE.test(path) && !this.contract.match(request.method, path)) throw new AppError('route_not_found');
    next();
  }
}
