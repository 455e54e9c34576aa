import { Injectable } from '@nestjs/common';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import type { ValidationIssue } from '@parley/api-types';
import {
  HTTP_METHODS,
  loadContractDocument,
  resolveRef,
  type OpenApiDocument,
  type OperationObject,
  type ParameterObject,
  type ResponseObject,
} from './contract-document.js';

export interface ContractOperation {
  operationId: string;
  method: string;
  /** OpenAPI path template, e.g. `/api/chats/{chatId}`. */
  path: string;
  pattern: RegExp;
  isPublic: boolean;
  validatePath: ValidateFunction;
  validateQuery: ValidateFunction;
  validateBody?: ValidateFunction;
  bodyRequired: boolean;
  /** status (or `default`) → media type → validator (undefined when the schema is free-form). */
  responses: Map<string, Map<string, ValidateFunction | undefined>>;
}

const SCHEMA_ID = 'urn:parley:contract';
// OpenAPI annotation keywords that are not JSON Schema vocabulary.
const ANNOTATIONS = ['example', 'discriminator', 'xml', 'externalDocs', 'x-enum-descriptions'];

const addFormats = addFormatsPlugin as unknown as (ajv: Ajv2020) => Ajv2020;

/**
 * The one validator derived from the contract: compiles every operation's parameter, body and
 * response schemas with Ajv (OpenAPI 3.1 schemas are JSON Schema 2020-12).
 */
@Injectable()
export class ContractService {
  readonly document: OpenApiDocument;
  private readonly operations = new Map<string, ContractOperation>();

  constructor(document: OpenApiDocument = loadContractDocument()) {
    this.document = document;
    // Requests: coerce path/query strings to the declared types, no defaults invented for bodies.
    const requests = this.createAjv({ coerceTypes: true, useDefaults: true });
    const bodies = this.createAjv({});
    for (const [path, item] of Object.entries(document.paths)) {
      for (const method of HTTP_METHODS) {
        const raw = item[method] as OperationObject | undefined;
        if (!raw) continue;
        this.operations.set(raw.operationId, this.compile(path, method, raw, requests, bodies));
      }
    }
  }

  operation(operationId: string): ContractOperation {
    const found = this.operations.get(operationId);
    if (!found) throw new Error(`operation ${operationId} is not in the contract`);
    return found;
  }

  all(): ContractOperation[] {
    return [...this.operations.values()];
  }

  /** The operation a concrete request addresses, if the contract has one. */
  match(method: string, urlPath: string): ContractOperation | undefined {
    const upper = method.toUpperCase();
    return this.all().find((op) => op.method === upper && op.pattern.test(urlPath));
  }

  private createAjv(options: { coerceTypes?: boolean; useDefaults?: boolean }): Ajv2020 {
    const ajv = new Ajv2020({ strict: false, allErrors: true, ...options });
    addFormats(ajv);
    for (const keyword of ANNOTATIONS) ajv.addKeyword(keyword);
    ajv.addSchema({ $id: SCHEMA_ID, components: this.document.components }, SCHEMA_ID);
    return ajv;
  }

  private compile(
    path: string,
    method: string,
    raw: OperationObject,
    requests: Ajv2020,
    bodies: Ajv2020,
  ): ContractOperation {
    const parameters = [
      ...((this.document.paths[path]?.parameters as ParameterObject[] | undefined) ?? []),
      ...(raw.parameters ?? []),
    ].map((p) => resolveRef<ParameterObject>(this.document, p));
    const objectOf = (where: ParameterObject['in']) => {
      const selected = parameters.filter((p) => p.in === where);
      return {
        type: 'object',
        properties: Object.fromEntries(selected.map((p) => [p.name, this.localize(p.schema ?? {})])),
        required: selected.filter((p) => p.required).map((p) => p.name),
      };
    };
    const body = raw.requestBody ? resolveRef(this.document, raw.requestBody) : undefined;
    const bodySchema = body?.content['application/json']?.schema;
    const responses = new Map<string, Map<string, ValidateFunction | undefined>>();
    for (const [status, value] of Object.entries(raw.responses)) {
      const response = resolveRef<ResponseObject>(this.document, value);
      const media = new Map<string, ValidateFunction | undefined>();
      for (const [type, content] of Object.entries(response.content ?? {})) {
        media.set(type, content.schema ? bodies.compile(this.localize(content.schema)) : undefined);
      }
      responses.set(status, media);
    }
    return {
      operationId: raw.operationId,
      method: method.toUpperCase(),
      path,
      pattern: new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}$`),
      isPublic: Array.isArray(raw.security) && raw.security.length === 0,
      validatePath: requests.compile(objectOf('path')),
      validateQuery: requests.compile(objectOf('query')),
      validateBody: bodySchema ? bodies.compile(this.localize(bodySchema)) : undefined,
      bodyRequired: Boolean(body?.required),
      responses,
    };
  }

  // Rewrites `#/components/…` references to point into the registered contract schema.
  private localize(schema: Record<string, unknown>): Record<string, unknown> {
    return JSON.parse(JSON.stringify(schema).replace(/"#\/components\//g, `"${SCHEMA_ID}#/components/`)) as Record<
      string,
      unknown
    >;
  }
}

export function toIssues(
  location: ValidationIssue['location'],
  errors: ErrorObject[] | null | undefined,
): ValidationIssue[] {
  return (errors ?? []).map((error) => {
    const missing = error.keyword === 'required' ? `/${String(error.params.missingProperty)}` : '';
    const extra = error.keyword === 'additionalProperties' ? `/${String(error.params.additionalProperty)}` : '';
    return {
      location,
      pointer: `${error.instancePath}${missing}${extra}`,
      message: error.message ?? 'is not valid',
      keyword: error.keyword,
    };
  });
}
