// The realtime contract (contracts/realtime.asyncapi.yaml, AsyncAPI 3.0), in two modes:
//   node scripts/realtime.mjs validate   the AsyncAPI parser's verdict; fails on any error or warning
//   node scripts/realtime.mjs generate   validates, then writes src/generated/realtime.ts
// The frames' types are made with json-schema-to-typescript from the document's schemas. A schema
// the HTTP contract owns (referenced as ./generate-ai-response.yaml#/components/schemas/X) stays
// that contract's type, `components['schemas']['X']`, so a Message is one type everywhere.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser, fromFile } from '@asyncapi/parser';
import { compile } from 'json-schema-to-typescript';
import { parse } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const contracts = join(here, '..', '..', '..', 'contracts');
const source = join(contracts, 'realtime.asyncapi.yaml');
const output = join(here, '..', 'src', 'generated', 'realtime.ts');
const HTTP_CONTRACT = './generate-ai-response.yaml';

async function validate() {
  const { document, diagnostics } = await fromFile(new Parser(), source).parse();
  // Spectral severities: 0 error, 1 warning, 2 information, 3 hint.
  const failing = diagnostics.filter((d) => d.severity <= 1);
  for (const d of diagnostics) {
    const level = ['error', 'warning', 'info', 'hint'][d.severity] ?? d.severity;
    console.error(`${level} ${d.code} at ${d.path.join('.') || '(root)'}: ${d.message}`);
  }
  if (!document || failing.length > 0) {
    console.error(`${source}: ${failing.length} error(s) or warning(s)`);
    process.exit(1);
  }
  console.error(`${source}: valid AsyncAPI ${document.version()}`);
  return document;
}

function pointer(documentRoot, path) {
  return path
    .split('/')
    .filter(Boolean)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((node, key) => {
      if (node === undefined || !(key in node)) throw new Error(`unresolved reference ${path}`);
      return node[key];
    }, documentRoot);
}

// Rewrites references: to this document's schemas as definitions, to the HTTP contract's schemas
// as its generated types, anything else of the HTTP contract inlined.
function rewrite(node, http) {
  if (Array.isArray(node)) return node.map((item) => rewrite(item, http));
  if (node === null || typeof node !== 'object') return node;
  const { $ref, ...rest } = node;
  const out = Object.fromEntries(Object.entries(rest).map(([key, value]) => [key, rewrite(value, http)]));
  if ($ref === undefined) return out;
  const [file, fragment = ''] = $ref.split('#');
  if (file === '') return { ...out, $ref: `#/definitions/${fragment.split('/').at(-1)}` };
  if (file !== HTTP_CONTRACT) throw new Error(`unexpected reference ${$ref}`);
  const schemaName = /^\/components\/schemas\/([A-Za-z0-9]+)$/.exec(fragment)?.[1];
  if (schemaName) return { ...out, tsType: `HttpSchemas['${schemaName}']` };
  return { ...rewrite(pointer(http, fragment), http), ...out };
}

function payloadName(message) {
  return message.payload.$ref.split('/').at(-1);
}

async function generate() {
  await validate();
  const doc = parse(readFileSync(source, 'utf8'));
  const http = parse(readFileSync(join(contracts, 'generate-ai-response.yaml'), 'utf8'));
  const definitions = Object.fromEntries(
    Object.entries(doc.components.schemas).map(([name, schema]) => [name, { title: name, ...rewrite(schema, http) }]),
  );
  const body = await compile({ title: 'RealtimeSchemas', type: 'object', definitions }, 'RealtimeSchemas', {
    bannerComment: '',
    unreachableDefinitions: true,
    additionalProperties: false,
    strictIndexSignatures: true,
    format: false,
  });
  const messagesOf = (operation) =>
    doc.operations[operation].messages.map((ref) => {
      const key = ref.$ref.split('/').at(-1);
      return doc.components.messages[doc.channels.realtime.messages[key].$ref.split('/').at(-1)];
    });
  const union = (messages) => messages.map(payloadName).join(' | ');
  const events = messagesOf('sendServerFrame').filter((m) => payloadName(m).endsWith('Event'));
  const text = [
    '/**',
    ' * This file was generated from contracts/realtime.asyncapi.yaml by packages/api-types/scripts/realtime.mjs.',
    ' * Do not make direct changes to the file: edit the contract and run `npm run generate`.',
    ' */',
    '',
    "import type { components } from './schema.js';",
    '',
    "type HttpSchemas = components['schemas'];",
    '',
    // The schema-less root type is of no use, nor the generator's note on where each came from.
    body
      .replace(/export interface RealtimeSchemas \{[^}]*\}\n?/, '')
      .replace(/ \*( \n \*)? This interface was referenced by [^\n]*\n \* via the `definition` "[A-Za-z]+"\.\n/g, '')
      .replace(/\/\*\*\n \*\/\n/g, ''),
    '/** A frame a client sends (`receiveClientFrame`). */',
    `export type ClientFrame = ${union(messagesOf('receiveClientFrame'))};`,
    '/** A frame the server sends (`sendServerFrame`). */',
    `export type ServerFrame = ${union(messagesOf('sendServerFrame'))};`,
    "/** The user's events: the server frames with a `seq`. */",
    `export type RealtimeEvent = ${union(events)};`,
    '/** The close codes of the socket, by name (`x-close-codes`). */',
    `export type RealtimeCloseCodes = ${JSON.stringify(doc.info['x-close-codes'])};`,
    '',
  ].join('\n');
  writeFileSync(output, text);
  console.error(`wrote ${output}`);
}

const mode = process.argv[2];
if (mode === 'validate') await validate();
else if (mode === 'generate') await generate();
else {
  console.error('usage: node scripts/realtime.mjs validate|generate');
  process.exit(2);
}
