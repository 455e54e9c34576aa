import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import { parse } from 'yaml';
import type { RealtimeCloseCodes } from '@parley/api-types';
import { repoPaths } from '../config/repo-paths.js';
import { loadContractDocument, type OpenApiDocument } from './contract-document.js';

/** The limits the realtime contract declares (`x-limits`), enforced as declared. */
export interface RealtimeLimits {
  maxFrameBytes: number;
  helloTimeoutMs: number;
  maxSubscriptions: number;
  subscribeBurst: number;
  subscribesPerSecond: number;
  maxBufferedBytes: number;
}

export type CloseCodeName = keyof RealtimeCloseCodes;

interface AsyncApiDocument {
  info: { 'x-limits': RealtimeLimits; 'x-close-codes': RealtimeCloseCodes };
  channels: { realtime: { address: string; messages: Record<string, { $ref: string }> } };
  operations: Record<string, { action: 'send' | 'receive'; messages: Array<{ $ref: string }> }>;
  components: { messages: Record<string, { payload: { $ref: string } }>; schemas: Record<string, unknown> };
}

const HTTP_ID = 'urn:parley:contract';
const REALTIME_ID = 'urn:parley:realtime';
const addFormats = addFormatsPlugin as unknown as (ajv: Ajv2020) => Ajv2020;

/** The realtime contract as one parsed document, read once (its limits are needed at import). */
export function loadRealtimeDocument(path: string = repoPaths.realtimeContract): AsyncApiDocument {
  return parse(readFileSync(path, 'utf8')) as AsyncApiDocument;
}

/**
 * The validators derived from contracts/realtime.asyncapi.yaml: one per frame type, for the
 * frames a client sends and those the server sends, by the payload schemas of the operations
 * `receiveClientFrame` and `sendServerFrame`. The HTTP contract's schemas it references are
 * compiled from that contract, so a `Message` is checked the same way on both.
 */
export class RealtimeContract {
  readonly path: string;
  readonly limits: RealtimeLimits;
  readonly closeCodes: RealtimeCloseCodes;
  private readonly client = new Map<string, ValidateFunction>();
  private readonly server = new Map<string, ValidateFunction>();
  readonly schemas = new Map<string, ValidateFunction>();

  constructor(document = loadRealtimeDocument(), http: OpenApiDocument = loadContractDocument()) {
    this.path = document.channels.realtime.address;
    this.limits = document.info['x-limits'];
    this.closeCodes = document.info['x-close-codes'];
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv);
    for (const keyword of ['example', 'discriminator', 'x-enum-descriptions', 'x-parser-schema-id']) {
      ajv.addKeyword(keyword);
    }
    ajv.addSchema({ $id: HTTP_ID, components: http.components }, HTTP_ID);
    const localized = JSON.parse(
      JSON.stringify(document.components.schemas)
        .replace(/"\.\/generate-ai-response\.yaml#\//g, `"${HTTP_ID}#/`)
        .replace(/"#\/components\/schemas\//g, `"${REALTIME_ID}#/components/schemas/`),
    ) as Record<string, unknown>;
    ajv.addSchema({ $id: REALTIME_ID, components: { schemas: localized } }, REALTIME_ID);
    for (const name of Object.keys(localized)) {
      this.schemas.set(name, ajv.compile({ $ref: `${REALTIME_ID}#/components/schemas/${name}` }));
    }
    for (const operation of Object.values(document.operations)) {
      const into = operation.action === 'receive' ? this.client : this.server;
      for (const ref of operation.messages) {
        const channelMessage = document.channels.realtime.messages[ref.$ref.split('/').at(-1)!]!;
        const message = document.components.messages[channelMessage.$ref.split('/').at(-1)!]!;
        const schemaName = message.payload.$ref.split('/').at(-1)!;
        const schema = document.components.schemas[schemaName] as { properties: { type: { const: string } } };
        into.set(schema.properties.type.const, this.schemas.get(schemaName)!);
      }
    }
  }

  closeCode(name: CloseCodeName): number {
    return this.closeCodes[name];
  }

  /** The validator of a client frame's type; undefined for a type the contract does not know. */
  clientFrame(type: string): ValidateFunction | undefined {
    return this.client.get(type);
  }

  get clientTypes(): string[] {
    return [...this.client.keys()];
  }

  /** What is wrong with a frame the server sends (empty when it conforms). */
  serverFrameViolations(frame: unknown): string[] {
    const type = (frame as { type?: unknown } | null)?.type;
    const validate = typeof type === 'string' ? this.server.get(type) : undefined;
    if (!validate) return [`unknown server frame type ${JSON.stringify(type)}`];
    return validate(frame) ? [] : [`${type}: ${JSON.stringify(validate.errors?.slice(0, 3))}`];
  }

  /** What is wrong with a frame a client sends (empty when it conforms). */
  clientFrameViolations(frame: unknown): string[] {
    const type = (frame as { type?: unknown } | null)?.type;
    const validate = typeof type === 'string' ? this.client.get(type) : undefined;
    if (!validate) return [`unknown client frame type ${JSON.stringify(type)}`];
    return validate(frame) ? [] : [`${type}: ${JSON.stringify(validate.errors?.slice(0, 3))}`];
  }
}
