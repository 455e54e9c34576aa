import type { ValidateFunction } from 'ajv';
import {
  resolveRef,
  type OperationObject,
  type ParameterObject,
  type ResponseObject,
} from '../../../src/contract/contract-document.js';
import type { ContractOperation, ContractService } from '../../../src/contract/contract.service.js';
import type { Schema } from './schema-arbitraries.js';

export interface ParameterModel {
  name: string;
  in: 'path' | 'query' | 'header';
  required: boolean;
  schema: Schema;
}

export interface ResponseModel {
  /** Header name (lower case) → whether the contract marks it required. */
  headers: Map<string, boolean>;
  /** Media types as declared (with parameters, e.g. `text/plain; version=0.0.4`). */
  media: string[];
}

export interface OperationModel {
  operation: ContractOperation;
  parameters: ParameterModel[];
  bodySchema?: Schema;
  /** Declared statuses → what the contract says about each response. */
  responses: Map<string, ResponseModel>;
  streaming: boolean;
}

export interface ErrorCodeRow {
  status: number;
  retryable: boolean;
}

/**
 * What the fuzzer needs to know about the contract, read through `ContractService` (which parsed
 * the document and compiled its validators) rather than from the YAML again.
 */
export class ContractModel {
  readonly operations: OperationModel[];
  readonly errorCodes: Map<string, ErrorCodeRow>;
  readonly validateProblem: ValidateFunction;
  readonly requestIdPattern: RegExp;
  readonly eventIdPattern: RegExp;

  constructor(readonly contract: ContractService) {
    const document = contract.document;
    this.operations = contract.all().map((operation) => {
      const item = document.paths[operation.path]!;
      const raw = item[operation.method.toLowerCase()] as OperationObject;
      const parameters = [...((item.parameters as ParameterObject[] | undefined) ?? []), ...(raw.parameters ?? [])]
        .map((p) => resolveRef<ParameterObject>(document, p))
        .filter((p): p is ParameterObject & { in: ParameterModel['in'] } => p.in !== 'cookie')
        .map((p) => ({ name: p.name, in: p.in, required: Boolean(p.required), schema: p.schema ?? {} }));
      const body = raw.requestBody ? resolveRef(document, raw.requestBody) : undefined;
      const responses = new Map<string, ResponseModel>();
      for (const [status, value] of Object.entries(raw.responses)) {
        const response = resolveRef<ResponseObject>(document, value);
        const headers = new Map<string, boolean>();
        for (const [name, header] of Object.entries(response.headers ?? {})) {
          headers.set(
            name.toLowerCase(),
            Boolean(resolveRef<{ required?: boolean }>(document, header as object).required),
          );
        }
        responses.set(status, { headers, media: Object.keys(response.content ?? {}) });
      }
      return {
        operation,
        parameters,
        bodySchema: body?.content['application/json']?.schema,
        responses,
        streaming: [...responses.values()].some((r) => r.media.includes('text/event-stream')),
      };
    });
    this.errorCodes = readErrorCodes(document.components.schemas as Record<string, Schema>);
    const problem = contract.operation('getMe').responses.get('401')?.get('application/problem+json');
    if (!problem) throw new Error('the contract has no problem+json response to take the Problem schema from');
    this.validateProblem = problem;
    const schemas = document.components.schemas as Record<string, { pattern?: string }>;
    this.requestIdPattern = new RegExp(schemas.RequestId!.pattern!, 'u');
    this.eventIdPattern = new RegExp(schemas.EventId!.pattern!, 'u');
  }

  model(operationId: string): OperationModel {
    const found = this.operations.find((m) => m.operation.operationId === operationId);
    if (!found) throw new Error(`operation ${operationId} is not in the contract`);
    return found;
  }

  /** The validator of one event's data on a streaming operation's 200. */
  eventValidator(model: OperationModel): ValidateFunction | undefined {
    return model.operation.responses.get('200')?.get('text/event-stream');
  }
}

// The ErrorCode schema's description holds the code → status → retryable table; it is the only
// place the contract states it, so it is read from there and checked against the enum.
function readErrorCodes(schemas: Record<string, Schema>): Map<string, ErrorCodeRow> {
  const errorCode = schemas.ErrorCode!;
  const rows = new Map<string, ErrorCodeRow>();
  for (const line of String(errorCode.description).split('\n')) {
    const match = /^\|\s*`([a-z_]+)`\s*\|\s*(\d{3})\s*\|\s*(yes|no)\s*\|/.exec(line);
    if (match) rows.set(match[1]!, { status: Number(match[2]), retryable: match[3] === 'yes' });
  }
  // The codes of 1.0 and those added since are two enums under `anyOf` (an addition, not a change).
  const codes = ((errorCode.anyOf ?? [errorCode]) as Schema[]).flatMap((branch) => branch.enum as string[]);
  const missing = codes.filter((code) => !rows.has(code));
  if (missing.length > 0) throw new Error(`the ErrorCode table does not list ${missing.join(', ')}`);
  return rows;
}
