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

/** The request-body limits the contract declares (`x-request-limits`), enforced as declared. */
export interface RequestLimits {
  maxBodyBytes: number;
  maxJsonDepth: number;
}

export interface ContractOperation {
  operationId: string;
  method: string;
  /** OpenAPI path template, e.g. `/api/v1/chats/{chatId}`. */
  path: string;
  pattern: RegExp;
  isPublic: boolean;
  validatePath: ValidateFunction;
  validateQuery: ValidateFunction;
  /** Over the declared header parameters, by lower-case name (Node's header names). */
  validateHeaders: ValidateFunction;
  /** Declared header parameters: lower-case name → the name the contract spells. */
  headerNames: Map<string, string>;
  validateBody?: ValidateFunction;
  /** Whether the operation takes a request body at all (a body sent to one that does not is ignored). */
  takesBody: boolean;
  bodyRequired: boolean;
  /** Whether the request body may be JSON. */
  jsonBody: boolean;
  /** The request body's media types other than JSON (uploads, read as bytes). */
  rawMediaTypes: string[];
  /** The operation's own body size limit (`x-max-body-bytes`), above the contract-wide one. */
  maxBodyBytes: number | undefined;
  /** status (or `default`) → media type → validator (undefined when the schema is free-form), compiled on first use. */
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
  readonly requestLimits: RequestLimits;
  private readonly operations = new Map<string, ContractOperation>();
  private readonly byMethod = new Map<string, ContractOperation[]>();

  constructor(document: OpenApiDocument = loadContractDocument()) {
    this.document = document;
    // Requests: coerce path/query strings to the declared types, no defaults invented for bodies.
    const requests = this.createAjv({ coerceTypes: true, useDefaults: true });
    const bodies = this.createAjv({});
    for (const [path, item] of Object.entries(document.paths)) {
      for (const method of HTTP_METHODS) {
        const raw = item[method] as OperationObject | undefined;
        if (!raw) continue;
        const operation = this.compile(path, method, raw, requests, bodies);
        this.operations.set(raw.operationId, operation);
        this.byMethod.set(operation.method, [...(this.byMethod.get(operation.method) ?? []), operation]);
      }
    }
    this.requestLimits = readLimits(document);
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
    return this.byMethod.get(method.toUpperCase())?.find((op) => op.pattern.test(urlPath));
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
    const objectOf = (where: ParameterObject['in'], name = (p: ParameterObject) => p.name) => {
      const selected = parameters.filter((p) => p.in === where);
      return {
        type: 'object',
        properties: Object.fromEntries(selected.map((p) => [name(p), this.localize(p.schema ?? {})])),
        required: selected.filter((p) => p.required).map(name),
      };
    };
    const headers = parameters.filter((p) => p.in === 'header');
    const body = raw.requestBody ? resolveRef(this.document, raw.requestBody) : undefined;
    const bodySchema = body?.content['application/json']?.schema;
    const responses = new Map<string, Map<string, ValidateFunction | undefined>>();
    for (const [status, value] of Object.entries(raw.responses)) {
      const response = resolveRef<ResponseObject>(this.document, value);
      const media = new Map<string, ValidateFunction | undefined>();
      for (const [type, content] of Object.entries(response.content ?? {})) {
        media.set(type, content.schema ? compiledOnFirstUse(bodies, this.localize(content.schema)) : undefined);
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
      validateHeaders: bodies.compile(objectOf('header', (p) => p.name.toLowerCase())),
      headerNames: new Map(headers.map((p) => [p.name.toLowerCase(), p.name])),
      validateBody: bodySchema ? bodies.compile(this.localize(bodySchema)) : undefined,
      takesBody: body !== undefined,
      bodyRequired: Boolean(body?.required),
      jsonBody: bodySchema !== undefined,
      rawMediaTypes: Object.keys(body?.content ?? {}).filter((type) => type !== 'application/json'),
      maxBodyBytes: typeof raw['x-max-body-bytes'] === 'number' ? raw['x-max-body-bytes'] : undefined,
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

/**
 * A validator compiled when it is first called. Response schemas are validated by the tests'
 * contract recorder, never while serving, so compiling all of them at start (every operation's
 * statuses and media types, each a separate compiled function) only cost the server memory and
 * start time; a test that validates a response compiles its schema then, with the same result.
 */
function compiledOnFirstUse(ajv: Ajv2020, schema: Record<string, unknown>): ValidateFunction {
  let compiled: ValidateFunction | undefined;
  const validate = (data: unknown): boolean => {
    compiled ??= ajv.compile(schema);
    const valid = compiled(data);
    validate.errors = compiled.errors;
    return valid;
  };
  validate.errors = undefined as ErrorObject[] | null | undefined;
  return validate as unknown as ValidateFunction;
}

function readLimits(document: OpenApiDocument): RequestLimits {
  const limits = document['x-request-limits'] as Partial<RequestLimits> | undefined;
  const { maxBodyBytes, maxJsonDepth } = limits ?? {};
  if (!Number.isInteger(maxBodyBytes) || !Number.isInteger(maxJsonDepth)) {
    throw new Error('the contract must declare x-request-limits.maxBodyBytes and maxJsonDepth');
  }
  return { maxBodyBytes: maxBodyBytes!, maxJsonDepth: maxJsonDepth! };
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
