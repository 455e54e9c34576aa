import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { operations } from '@parley/api-types';

export type OperationId = keyof operations;

export const OPERATION_METADATA = 'parley:operation';

/** Binds a handler to its contract operation: requests are validated against it. */
export const ContractOperation = (operationId: OperationId) => SetMetadata(OPERATION_METADATA, operationId);

const VALIDATED_QUERY = Symbol('validatedQuery');

export function setValidatedQuery(request: Request, query: Record<string, unknown>): void {
  (request as Request & { [VALIDATED_QUERY]?: unknown })[VALIDATED_QUERY] = query;
}

/** The query string after contract validation, with defaults applied and numbers coerced. */
export const ValidQuery = createParamDecorator((_data: unknown, context: ExecutionContext) => {
  const request = context.switchToHttp().getRequest<Request & { [VALIDATED_QUERY]?: unknown }>();
  return request[VALIDATED_QUERY] ?? {};
});
