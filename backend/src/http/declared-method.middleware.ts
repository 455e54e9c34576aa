import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../errors/app-error.js';
import { ContractService } from '../contract/contract.service.js';
import { requestPath } from './request-path.js';

/**
 * On the contract's paths, only the contract's methods are served: Express would otherwise
 * answer `HEAD` from the `GET` handler and `OPTIONS` with an `Allow` list, statuses the contract
 * does not declare. Everything else there is `404 route_not_found`, as documented.
 */
@Injectable()
export class DeclaredMethodMiddleware implements NestMiddleware {
  constructor(private readonly contract: ContractService) {}

  use(request: Request, _response: Response, next: NextFunction): void {
    const path = requestPath(request);
    if (!this.contract.match(request.method, path) && this.contract.hasPath(path)) {
      throw new AppError('route_not_found');
    }
    next();
  }
}
