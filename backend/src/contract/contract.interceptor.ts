import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import type { Observable } from 'rxjs';
import { AppError } from '../errors/app-error.js';
import { ContractService, toIssues } from './contract.service.js';
import { OPERATION_METADATA, setValidatedQuery, type OperationId } from './contract-operation.decorator.js';

/** Validates path, query and body of every bound handler against its contract operation. */
@Injectable()
export class ContractInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly contract: ContractService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const operationId = this.reflector.get<OperationId | undefined>(OPERATION_METADATA, context.getHandler());
    if (operationId) this.validate(context.switchToHttp().getRequest<Request>(), operationId);
    return next.handle();
  }

  private validate(request: Request, operationId: OperationId): void {
    const operation = this.contract.operation(operationId);
    const params = { ...request.params };
    if (!operation.validatePath(params)) {
      throw new AppError('validation_failed', { errors: toIssues('path', operation.validatePath.errors) });
    }
    const query = { ...(request.query as Record<string, unknown>) };
    if (!operation.validateQuery(query)) {
      throw new AppError('validation_failed', { errors: toIssues('query', operation.validateQuery.errors) });
    }
    setValidatedQuery(request, query);
    const headers = Object.fromEntries(
      [...operation.headerNames.keys()]
        .filter((name) => name in request.headers)
        .map((name) => [name, request.headers[name]]),
    );
    if (!operation.validateHeaders(headers)) {
      const issues = toIssues('header', operation.validateHeaders.errors).map((issue) => ({
        ...issue,
        // `/idempotency-key` → `/Idempotency-Key`, as the contract names the header.
        pointer: `/${operation.headerNames.get(issue.pointer.slice(1).split('/')[0] ?? '') ?? issue.pointer.slice(1)}`,
      }));
      throw new AppError('validation_failed', { errors: issues });
    }
    if (!operation.validateBody) return;
    const body: unknown = request.body;
    // An upload's bytes: its handler reads and checks them.
    if (Buffer.isBuffer(body)) return;
    if (body === undefined) {
      if (operation.bodyRequired) {
        throw new AppError('validation_failed', {
          errors: [{ location: 'body', pointer: '', message: 'a JSON body is required', keyword: 'required' }],
        });
      }
      return;
    }
    if (!operation.validateBody(body)) {
      throw new AppError('validation_failed', { errors: toIssues('body', operation.validateBody.errors) });
    }
  }
}
