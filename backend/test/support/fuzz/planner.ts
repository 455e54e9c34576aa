import http from 'node:http';
import querystring from 'node:querystring';
import fc from 'fast-check';
import type { ContractModel, OperationModel, ParameterModel } from './contract-model.js';
import { authVariant, type AuthVariant, type TokenSettings } from './credentials.js';
import type { Draw } from './draw.js';
import { mutateValue, preview, rawBody, serialize, type RawBody } from './mutations.js';
import type { RawRequest } from './raw-http.js';
import type { Schema, SchemaArbitraries } from './schema-arbitraries.js';
import { sameTurn, type Account, type KeyedTurn, type World } from './world.js';

/**
 * What the contract lets us expect of a request beyond the rules every response follows:
 * `accept` — it is valid, so it must not be refused for its form (400, 401, 413, 415, 404
 * route_not_found); `reject` — it breaks one rule, so it must be a 4xx with one of these codes;
 * `any` — the contract does not decide.
 */
export type Expectation = { kind: 'accept' } | { kind: 'reject'; codes: string[] } | { kind: 'any' };

/** Codes that blame the form of a request rather than the state of the data. */
export const FORM_CODES = [
  'validation_failed',
  'malformed_json',
  'unauthenticated',
  'payload_too_large',
  'unsupported_media_type',
  'route_not_found',
];

/** The pseudo-operation of requests whose method and path match no operation. */
export const NO_OPERATION = '(no operation)';

/** The operation that makes every earlier token of its account refused. */
export const REVOKING = 'signOutEverywhere';
const ACCOUNT_SECRETS: Record<string, string> = {
  changePassword: 'password_incorrect',
  deleteMe: 'password_incorrect',
  resetPassword: 'reset_token_invalid',
};

export type SideKind = 'cancelMessage' | 'followMessage' | 'deleteChat' | 'repeat';

export interface PlannedRequest extends RawRequest {
  /** The operation aimed at (what the request is counted under). */
  operationId: string;
  mode: string;
  notes: string[];
  expect: Expectation;
  /** The account whose token was sent (in whatever form), if one was. */
  actor?: Account;
  target: { chatId?: string; messageId?: string };
  /** The turn asked for, with its Idempotency-Key when one was sent. */
  turn?: Omit<KeyedTurn, 'key'> & { key?: string };
  /** A request to send as soon as this stream's first event arrives. */
  side?: SideKind;
}

type PathValue = ({ value: string } | { encoded: string }) & { unclear?: boolean };

interface Parts {
  path: Map<string, PathValue>;
  query: string[];
  headers: Record<string, string | string[]>;
  body?: { value: unknown; text: string };
  raw?: RawBody;
  auth?: AuthVariant;
  /** Set when the contract decides more than the validators do (a forged cursor, a reused key). */
  semantic?: Expectation;
}

const UUID_BAD = (uuid: string): PathValue[] => [
  ...[
    'not-a-uuid',
    'NULL',
    '0',
    '-1',
    uuid.replace(/-/g, ''),
    `${uuid}x`,
    uuid.toUpperCase(),
    `{${uuid}}`,
    "1' OR '1'='1",
    '..',
    '.',
    'a'.repeat(200),
    '\u0000',
    ' ',
    '',
    `${uuid}\n`,
    '☃',
    '00000000-0000-0000-0000-000000000000',
  ].map((value) => ({ value })),
  // Ajv's uuid format also admits the URN form, which the contract's prose does not mention.
  { value: `urn:uuid:${uuid}`, unclear: true },
  ...['%ZZ', '%C0%AF', '%2F', '%00', `${uuid}%0A`, '%E2%98%83', uuid.replace('-', '%2D'), '%', '%u0041'].map(
    (encoded) => ({ encoded }),
  ),
];

const SLUG_BAD: PathValue[] = [
  ...[
    'Captain-Mira',
    'captain_mira',
    '-captain',
    'a'.repeat(65),
    'captain mira',
    'ünïcode',
    '..',
    '',
    "x' OR 1=1",
    'captain-mira\u0000',
  ].map((value) => ({ value })),
  ...['%63aptain-mira', '%ZZ', '%C0%AF'].map((encoded) => ({ encoded })),
];

const INTEGER_BAD = [
  '0',
  '-1',
  '101',
  '1.5',
  'ten',
  '',
  '1e2',
  '0x10',
  ' 5',
  '2147483648',
  '99999999999999999999',
  '5abc',
  'Infinity',
  'NaN',
  'true',
  '1,2',
];

const IDEMPOTENCY_BAD: Array<string | string[]> = [
  '',
  ' ',
  'a'.repeat(256),
  `"${'a'.repeat(256)}"`,
  '"unterminated',
  'a"b',
  'has space',
  '"a\\"b"',
  'é',
  '"\t"',
  '""',
  '"',
  ['first-key', 'second-key'],
];

const LAST_EVENT_ID_BAD = ['', ' ', 'x y', 'a'.repeat(129), 'é', 'a,b', '../..'];

const LANGUAGES = [
  'zh',
  'zh-CN,zh;q=0.9,en;q=0.8',
  'en',
  'fr',
  '*',
  'en;q=abc',
  'zh;q=2',
  ';;;',
  'x'.repeat(500),
  '',
  'ZH',
  'zh-Hant-TW',
  'en-US,en;q=0.5',
  'q=1',
];
const REQUEST_IDS_BAD = ['has space', 'a'.repeat(129), 'é', '', '<script>', 'a,b', 'id\tx'];
const ACCEPTS = [
  'text/event-stream',
  'application/xml',
  '*/*',
  'application/problem+json',
  'text/html',
  'application/json;q=0',
];

/** Methods Node's HTTP parser knows; CONNECT and PRI have their own handling and are left out. */
const METHODS = http.METHODS.filter((m) => m !== 'CONNECT' && m !== 'PRI');

/**
 * Turns one seeded draw into a concrete request for an operation, from the contract's schemas
 * and the world's fixtures: valid, or with exactly one thing wrong (so the expected answer is
 * clear), plus harmless noise (languages, request ids, conditional and Accept headers).
 */
export class Planner {
  constructor(
    private readonly model: ContractModel,
    private readonly arbs: SchemaArbitraries,
    private readonly world: World,
    private readonly tokens: TokenSettings,
  ) {}

  plan(draw: Draw, operationId: string): PlannedRequest {
    if (operationId === NO_OPERATION) return this.route(draw);
    const model = this.model.model(operationId);
    const op = model.operation;
    const has = (where: ParameterModel['in']) => model.parameters.some((p) => p.in === where);
    const turnHeaders = model.parameters.some((p) => p.name === 'Idempotency-Key' || p.name === 'Last-Event-ID');
    const mode = draw.weighted([
      [5, 'valid'],
      [model.bodySchema ? 3 : 0, 'body'],
      [model.bodySchema ? 2.5 : 0, 'raw-body'],
      // An upload (raw image bytes) takes a body, though not a JSON one.
      [model.bodySchema || op.rawMediaTypes.length > 0 ? 0 : 1, 'stray-body'],
      [has('path') ? 2 : 0, 'path'],
      [has('query') ? 2 : 0.3, 'query'],
      [turnHeaders ? 2 : 0, 'header'],
      [op.isPublic ? 0.5 : 2, 'auth'],
    ] as const);
    // Signing out everywhere acts on an account of its own, signed in again between batches
    // (World.revocable), so it never revokes the tokens the other requests carry.
    const actor =
      operationId === REVOKING
        ? this.world.revocable!
        : draw.chance(0.85)
          ? this.world.accounts[0]!
          : this.world.accounts[1]!;
    const request: PlannedRequest = {
      operationId,
      mode,
      notes: [],
      expect: { kind: 'any' },
      method: op.method,
      path: '',
      headers: {},
      actor,
      target: {},
    };
    const parts: Parts = { path: new Map(), query: [], headers: {} };
    this.validParts(draw, model, request, parts);
    switch (mode) {
      case 'body': {
        const mutant = mutateValue(draw, this.arbs, model.bodySchema!, parts.body!.value);
        parts.body = { value: mutant.value, text: JSON.stringify(mutant.value) };
        request.notes.push(`body: ${mutant.note}`);
        // A mutant that keeps the form but breaks an imported tree's references is refused for them.
        if (brokenImportTree(mutant.value)) parts.semantic = { kind: 'reject', codes: ['validation_failed'] };
        break;
      }
      case 'raw-body':
      case 'stray-body': {
        const value = parts.body?.value ?? draw.value(this.arbs.valid(this.anyBodySchema(draw)));
        // An operation may declare its own, larger body limit (`x-max-body-bytes`).
        const limits = this.model.contract.requestLimits;
        parts.raw = rawBody(draw, value, { ...limits, maxBodyBytes: op.maxBodyBytes ?? limits.maxBodyBytes });
        request.notes.push(
          `${mode === 'stray-body' ? 'body sent to an operation that takes none' : 'body'}: ${parts.raw.note}`,
        );
        break;
      }
      case 'path':
        this.mutatePath(draw, model, parts, request);
        break;
      case 'query':
        this.mutateQuery(draw, model, parts, request);
        break;
      case 'header':
        this.mutateHeaders(draw, model, parts, request);
        break;
      case 'auth':
        parts.auth = authVariant(draw, actor.token, actor.id, this.tokens);
        request.notes.push(`auth: ${parts.auth.note}`);
        // Whose data a success touches: the account, when its own token went out.
        if (!parts.auth.carriesToken) request.actor = undefined;
        break;
    }
    this.noise(draw, request, model);
    this.assemble(model, parts, request);
    if (mode === 'valid' && model.streaming && request.turn && draw.chance(0.35)) {
      request.side = draw.pick<SideKind>(
        request.turn.key
          ? ['cancelMessage', 'followMessage', 'deleteChat', 'repeat']
          : ['cancelMessage', 'followMessage', 'deleteChat'],
      );
      request.notes.push(`${request.side} sent when the stream's first event arrives`);
    }
    return request;
  }

  /**
   * A request sent while another one's reply streams: stop it, follow it, delete its chat, or
   * repeat the turn in the JSON form with the same Idempotency-Key.
   */
  side(kind: SideKind, first: PlannedRequest, replyId: string): PlannedRequest {
    const actor = first.actor!;
    const chatId = first.target.chatId!;
    const base = {
      mode: 'concurrent',
      notes: [`${kind} while a reply streams`],
      actor,
      headers: { Authorization: `Bearer ${actor.token}` },
    };
    const expect: Expectation = { kind: 'accept' };
    switch (kind) {
      case 'cancelMessage':
      case 'followMessage': {
        const model = this.model.model(kind);
        const path = fill(model.operation.path, { chatId, messageId: replyId });
        return {
          ...base,
          operationId: kind,
          method: model.operation.method,
          path,
          expect,
          target: { chatId, messageId: replyId },
        };
      }
      case 'deleteChat': {
        const model = this.model.model('deleteChat');
        return {
          ...base,
          operationId: 'deleteChat',
          method: 'DELETE',
          path: fill(model.operation.path, { chatId }),
          expect,
          target: { chatId },
        };
      }
      case 'repeat': {
        // The JSON form of the same request: 201 (already over) or 409 idempotency_key_in_flight.
        const turn = first.turn!;
        const operationId = turn.kind === 'send' ? 'sendMessage' : 'regenerateMessage';
        const model = this.model.model(operationId);
        const sent = first.headers['Idempotency-Key'];
        const headers: Record<string, string> = { ...base.headers, 'Idempotency-Key': String(sent) };
        let body: Buffer | undefined;
        if (turn.kind === 'send') {
          headers['Content-Type'] = 'application/json';
          body = Buffer.from(JSON.stringify({ content: turn.content }));
        }
        return {
          ...base,
          headers,
          body,
          operationId,
          method: model.operation.method,
          path: fill(model.operation.path, { chatId, messageId: turn.messageId ?? '' }),
          expect,
          target: { chatId, messageId: turn.messageId },
          turn,
        };
      }
    }
  }

  // ---- valid requests -------------------------------------------------------------------

  private validParts(draw: Draw, model: OperationModel, request: PlannedRequest, parts: Parts): void {
    const actor = request.actor!;
    const ids = this.ids(draw, actor, request);
    for (const parameter of model.parameters) {
      if (parameter.in === 'path') {
        const known = ids[parameter.name];
        parts.path.set(parameter.name, { value: known ?? String(draw.value(this.arbs.valid(parameter.schema))) });
      } else if (parameter.in === 'query') {
        if (!parameter.required && draw.chance(0.5)) continue;
        if (parameter.name === 'cursor') {
          // The cursors kept are listChats'; a cursor is bound to its listing, so other
          // listings get none in valid requests.
          const ownListing = model.operation.operationId === 'listChats';
          if (ownListing && actor.cursors.length > 0)
            parts.query.push(`cursor=${encodeURIComponent(draw.pick(actor.cursors))}`);
          continue;
        }
        parts.query.push(
          `${encodeURIComponent(parameter.name)}=${encodeURIComponent(String(draw.value(this.arbs.valid(parameter.schema))))}`,
        );
      }
    }
    if (model.bodySchema) {
      // A few formats (email) are drawn more loosely than Ajv checks them: draw again.
      let value = this.withFixtures(draw, model, draw.value(this.arbs.valid(model.bodySchema)));
      for (let tries = 0; tries < 3 && !model.operation.validateBody?.(value); tries++) {
        value = this.withFixtures(draw, model, draw.value(this.arbs.valid(model.bodySchema)));
      }
      const written = serialize(draw, value);
      parts.body = { value, text: written.text };
      if (written.note !== 'plain') request.notes.push(`body ${written.note}`);
    }
    // Account operations confirmed by a secret the fuzzer never has: drawn passwords and reset
    // codes are wrong, so a valid request is refused for that (and never deletes an account).
    const wrongSecret = ACCOUNT_SECRETS[request.operationId];
    if (wrongSecret) parts.semantic = { kind: 'reject', codes: [wrongSecret] };
    // Signing out everywhere revokes the token of every request of its account in flight.
    if (request.operationId === REVOKING) parts.semantic = { kind: 'any' };
    const keyParameter = model.parameters.find((p) => p.name === 'Idempotency-Key');
    if (keyParameter) this.turn(draw, model, keyParameter, request, parts);
    const lastEventId = model.parameters.find((p) => p.name === 'Last-Event-ID');
    if (lastEventId && draw.chance(0.3)) {
      const replyId = request.operationId === 'followMessage' ? request.target.messageId : this.keyedReply(request);
      const seen = replyId ? this.world.eventIds.get(replyId) : undefined;
      if (seen && seen.length > 0) {
        parts.headers['Last-Event-ID'] = draw.pick(seen);
        request.notes.push('Last-Event-ID of this reply');
      }
    }
  }

  /** Path ids: the caller's own, another account's, deleted or random, by choice. */
  private ids(draw: Draw, actor: Account, request: PlannedRequest): Record<string, string | undefined> {
    const other = this.world.other(actor);
    const uuid = () => draw.value(fc.uuid());
    const chatKind = draw.weighted([
      [actor.chats.length > 0 ? 10 : 0, 'own'],
      [other.chats.length > 0 ? 2 : 0, 'foreign'],
      [actor.deletedChatIds.length > 0 ? 1 : 0, 'deleted'],
      [1.5, 'random'],
    ] as const);
    const chat =
      chatKind === 'own' ? draw.pick(actor.chats) : chatKind === 'foreign' ? draw.pick(other.chats) : undefined;
    const chatId = chat?.id ?? (chatKind === 'deleted' ? draw.pick(actor.deletedChatIds) : uuid());
    let messageKind = 'random';
    let messageId: string | undefined;
    if (chat) {
      const replies = chat.replyIds;
      const elsewhere = [...actor.chats, ...other.chats].filter((c) => c !== chat).flatMap((c) => c.replyIds);
      messageKind = draw.weighted([
        [replies.length > 0 ? 8 : 0, 'latest reply'],
        [replies.length > 1 ? 2 : 0, 'older reply'],
        [2, 'greeting'],
        [chat.userMessageIds.length > 0 ? 2 : 0, 'user message'],
        [elsewhere.length > 0 ? 1 : 0, "another chat's reply"],
        [1, 'random'],
      ] as const);
      messageId =
        messageKind === 'latest reply'
          ? replies[replies.length - 1]
          : messageKind === 'older reply'
            ? draw.pick(replies.slice(0, -1))
            : messageKind === 'greeting'
              ? chat.greetingId
              : messageKind === 'user message'
                ? draw.pick(chat.userMessageIds)
                : messageKind === "another chat's reply"
                  ? draw.pick(elsewhere)
                  : undefined;
    }
    const characterId =
      draw.chance(0.8) && this.world.characters.length > 0 ? draw.pick(this.world.characters) : undefined;
    request.target = { chatId, messageId: messageId ?? uuid() };
    request.notes.push(`${chatKind} chat, ${messageKind === 'random' ? 'random message id' : messageKind}`);
    return { chatId, messageId: request.target.messageId, characterId };
  }

  /** A body field that names a fixture gets a real value most of the time. */
  private withFixtures(draw: Draw, _model: OperationModel, value: unknown): unknown {
    if (typeof value !== 'object' || value === null) return value;
    const body = { ...(value as Record<string, unknown>) };
    if ('characterId' in body && this.world.characters.length > 0 && draw.chance(0.75)) {
      body.characterId = draw.pick(this.world.characters);
    }
    // Which greetings a character has is data, not form: the first (0) is the one every character has.
    if ('greetingIndex' in body) body.greetingIndex = 0;
    // So is an imported tree's shape (the ids that parents and the active leaf name): made a path
    // in file order whenever the file carries one.
    if (body.format === 'parley.chat' && Array.isArray(body.messages)) {
      const messages = body.messages as Array<Record<string, unknown>>;
      const tree = messages.some((m) => 'parentId' in m || 'id' in m);
      if (tree) body.messages = messages.map((m, i) => ({ ...m, id: `m${i}`, parentId: i === 0 ? null : `m${i - 1}` }));
      const chat = body.chat as Record<string, unknown> | undefined;
      if (chat && 'activeLeafId' in chat)
        body.chat = { ...chat, activeLeafId: tree ? `m${messages.length - 1}` : null };
    }
    if ('email' in body && 'password' in body && !('locale' in body && 'displayName' in body) && draw.chance(0.5)) {
      // Real credentials (for login; for register, an email that is taken), the email in any case.
      const known = [...this.world.accounts, ...this.world.registered];
      const account = draw.pick(known);
      body.email = draw.chance(0.3) ? account.email.toUpperCase() : account.email;
      body.password = account.password;
    }
    return body;
  }

  /** The Idempotency-Key of a turn: fresh, the same key for the same turn, or a key reused for another. */
  private turn(
    draw: Draw,
    model: OperationModel,
    parameter: ParameterModel,
    request: PlannedRequest,
    parts: Parts,
  ): void {
    const actor = request.actor!;
    const kind: KeyedTurn['kind'] = model.bodySchema ? 'send' : 'regenerate';
    const current = (): Omit<KeyedTurn, 'key'> => ({
      kind,
      chatId: request.target.chatId!,
      ...(kind === 'send'
        ? { content: (parts.body?.value as { content?: string } | undefined)?.content }
        : { messageId: request.target.messageId }),
    });
    request.turn = current();
    if (!parameter.required && draw.chance(0.35)) return;
    const sameKind = actor.keys.filter((k) => k.kind === kind);
    const choice = draw.weighted([
      [7, 'fresh'],
      [sameKind.length > 0 ? 2 : 0, 'same'],
      [actor.keys.length > 0 ? 1 : 0, 'other'],
    ] as const);
    if (choice === 'same') {
      const record = draw.pick(sameKind);
      request.target = { chatId: record.chatId, messageId: record.messageId ?? request.target.messageId };
      parts.path.set('chatId', { value: record.chatId });
      if (record.messageId) parts.path.set('messageId', { value: record.messageId });
      if (kind === 'send')
        parts.body = { value: { content: record.content }, text: JSON.stringify({ content: record.content }) };
      request.turn = { ...record };
      parts.headers['Idempotency-Key'] = keyHeader(draw, record.key);
      request.notes.push('Idempotency-Key of an earlier identical turn');
      return;
    }
    if (choice === 'other') {
      const record = draw.pick(actor.keys);
      parts.headers['Idempotency-Key'] = keyHeader(draw, record.key);
      request.turn = { ...current(), key: record.key };
      if (!sameTurn(record, current())) {
        parts.semantic = { kind: 'reject', codes: ['idempotency_key_reused'] };
        request.notes.push('Idempotency-Key of an earlier, different turn');
      }
      return;
    }
    let key = String(draw.value(this.arbs.valid(parameter.schema)));
    const bare = key.startsWith('"') ? key.slice(1, -1) : key;
    if (actor.keys.some((k) => k.key === bare) || bare.length < 8) key = draw.value(fc.uuid());
    parts.headers['Idempotency-Key'] = key;
    request.turn = { ...current(), key: key.startsWith('"') ? key.slice(1, -1) : key };
  }

  private keyedReply(request: PlannedRequest): string | undefined {
    const key = request.turn?.key;
    const record = key ? request.actor?.keys.find((k) => k.key === key) : undefined;
    return record && sameTurn(record, request.turn!) ? record.replyId : undefined;
  }

  private anyBodySchema(draw: Draw): Schema {
    const withBodies = this.model.operations.filter((m) => m.bodySchema);
    return draw.pick(withBodies).bodySchema!;
  }

  // ---- one thing wrong ------------------------------------------------------------------

  private mutatePath(draw: Draw, model: OperationModel, parts: Parts, request: PlannedRequest): void {
    const parameter = draw.pick(model.parameters.filter((p) => p.in === 'path'));
    const schema = this.arbs.resolve(parameter.schema);
    // Variants of the real id where there is one (its upper-case spelling still names it).
    const current = parts.path.get(parameter.name);
    const real = current && 'value' in current ? current.value : draw.value(fc.uuid());
    const candidates = schema.format === 'uuid' ? UUID_BAD(real) : SLUG_BAD;
    const chosen = draw.pick(candidates);
    parts.path.set(parameter.name, chosen);
    if (chosen.unclear) parts.semantic = { kind: 'any' };
    request.notes.push(
      `path ${parameter.name} = ${'value' in chosen ? preview(chosen.value) : chosen.encoded} ${'encoded' in chosen ? '(sent as is)' : ''}`,
    );
  }

  private mutateQuery(draw: Draw, model: OperationModel, parts: Parts, request: PlannedRequest): void {
    const declared = model.parameters.filter((p) => p.in === 'query');
    const kind = draw.weighted([
      [declared.length > 0 ? 6 : 0, 'bad-value'],
      [declared.length > 0 ? 1 : 0, 'repeated'],
      [2, 'unknown'],
    ] as const);
    if (kind === 'unknown') {
      const extra = draw.pick([
        'foo=bar',
        '__proto__=x',
        'limit[]=1',
        'constructor=1',
        `${'a'.repeat(100)}=1`,
        '%ZZ=1',
        'a=%ZZ',
        '=',
        '&&',
        'x',
      ]);
      parts.query.push(extra);
      request.notes.push(`query with an undeclared parameter ${extra}`);
      if (extra.includes('%ZZ')) parts.semantic = { kind: 'any' };
      return;
    }
    const parameter = draw.pick(declared);
    parts.query = parts.query.filter((q) => !q.startsWith(`${encodeURIComponent(parameter.name)}=`));
    const name = encodeURIComponent(parameter.name);
    if (kind === 'repeated') {
      parts.query.push(`${name}=1`, `${name}=2`);
      request.notes.push(`query ${parameter.name} given twice`);
      return;
    }
    const schema = this.arbs.resolve(parameter.schema);
    if (parameter.name === 'cursor') {
      const other = this.world.other(request.actor!);
      const variant = draw.weighted([
        [3, 'forged'],
        [2, 'pattern'],
        [other.cursors.length > 0 ? 2 : 0, 'foreign'],
      ] as const);
      let value: string;
      if (variant === 'pattern') {
        value = draw.pick(['a b', '+/=', 'a'.repeat(513), '', '\u0000', 'ü']);
      } else {
        value =
          variant === 'foreign' ? draw.pick(other.cursors) : String(draw.value(this.arbs.valid(parameter.schema)));
        // Signed by the server for this user only: anything else is refused (contract, `Cursor`).
        parts.semantic = { kind: 'reject', codes: ['validation_failed'] };
      }
      parts.query.push(`${name}=${encodeURIComponent(value)}`);
      request.notes.push(`query cursor ${variant} ${preview(value)}`);
      return;
    }
    const value = schema.type === 'integer' ? draw.pick(INTEGER_BAD) : draw.pick(['', ' ', '\u0000', 'x'.repeat(600)]);
    parts.query.push(`${name}=${encodeURIComponent(value)}`);
    request.notes.push(`query ${parameter.name}=${preview(value)}`);
  }

  private mutateHeaders(draw: Draw, model: OperationModel, parts: Parts, request: PlannedRequest): void {
    const key = model.parameters.find((p) => p.name === 'Idempotency-Key');
    const lastEventId = model.parameters.find((p) => p.name === 'Last-Event-ID');
    const actor = request.actor!;
    const kind = draw.weighted([
      [key ? 4 : 0, 'bad-key'],
      [key?.required ? 2 : 0, 'missing-key'],
      [key && actor.keys.length > 0 ? 2 : 0, 'reused-key'],
      [lastEventId ? 4 : 0, 'last-event-id'],
    ] as const);
    if (kind === 'bad-key') {
      const value = draw.pick(IDEMPOTENCY_BAD);
      parts.headers['Idempotency-Key'] = value;
      request.notes.push(`Idempotency-Key ${JSON.stringify(value)}`);
    } else if (kind === 'missing-key') {
      delete parts.headers['Idempotency-Key'];
      request.notes.push('no Idempotency-Key');
    } else if (kind === 'reused-key') {
      const record = draw.pick(actor.keys);
      parts.headers['Idempotency-Key'] = keyHeader(draw, record.key);
      request.turn = { ...request.turn!, key: record.key };
      if (!sameTurn(record, request.turn)) parts.semantic = { kind: 'reject', codes: ['idempotency_key_reused'] };
      request.notes.push(
        `Idempotency-Key of an earlier turn (${sameTurn(record, request.turn) ? 'the same' : 'a different'} one)`,
      );
    } else {
      const others = [...this.world.eventIds.entries()]
        .filter(([replyId]) => replyId !== request.target.messageId)
        .flatMap(([, ids]) => ids);
      const target = request.target.messageId ?? '';
      const variant = draw.weighted([
        [4, 'malformed'],
        [others.length > 0 ? 3 : 0, 'another reply'],
        [2, 'random'],
        [1, 'far offset'],
      ] as const);
      const value =
        variant === 'malformed'
          ? draw.pick(LAST_EVENT_ID_BAD)
          : variant === 'another reply'
            ? draw.pick(others)
            : variant === 'random'
              ? String(draw.value(this.arbs.valid(lastEventId!.schema)))
              : `${target}:999999999.1`;
      parts.headers['Last-Event-ID'] = value;
      request.notes.push(`Last-Event-ID ${variant} ${preview(value)}`);
      if (variant !== 'malformed' && variant !== 'far offset') {
        // Valid in form, but not an event of this reply: a 400 once the reply is found (contract,
        // `LastEventId`); elsewhere (a new turn) the contract does not say.
        const chat = actor.chats.find((c) => c.id === request.target.chatId);
        const ownReply = chat?.replyIds.includes(target) ?? false;
        parts.semantic =
          request.operationId === 'followMessage' && ownReply
            ? { kind: 'reject', codes: ['validation_failed'] }
            : { kind: 'any' };
      } else if (variant === 'far offset') {
        parts.semantic = { kind: 'any' };
      }
    }
  }

  // ---- harmless variety -----------------------------------------------------------------

  private noise(draw: Draw, request: PlannedRequest, model?: OperationModel): void {
    const headers = request.headers;
    // Free-form header parameters (Accept-Language, X-Request-Id): any value is allowed, and
    // never an error; values drawn from their schemas as well as the usual suspects.
    const declared = (name: string) => model?.parameters.find((p) => p.in === 'header' && p.name === name);
    const fromSchema = (name: string) => sendable(String(draw.value(this.arbs.valid(declared(name)!.schema))));
    if (draw.chance(0.35)) {
      headers['Accept-Language'] =
        declared('Accept-Language') && draw.chance(0.3) ? fromSchema('Accept-Language') : draw.pick(LANGUAGES);
    }
    if (draw.chance(0.4)) {
      headers['X-Request-Id'] = draw.weighted([
        [6, () => draw.value(fc.stringMatching(this.model.requestIdPattern))],
        [3, () => draw.pick(REQUEST_IDS_BAD)],
        [declared('X-Request-Id') ? 2 : 0, () => fromSchema('X-Request-Id')],
      ] as const)();
    }
    if (draw.chance(0.1)) headers.Accept = draw.pick(ACCEPTS);
    if (draw.chance(0.05)) headers['If-None-Match'] = draw.pick(['*', '"abc"', 'W/"x"']);
    if (draw.chance(0.03)) headers['If-Modified-Since'] = new Date(Date.UTC(2100, 0, 1)).toUTCString();
    if (draw.chance(0.03)) headers['X-Debug-Force-Error'] = draw.pick(['breaker', 'provider_unavailable', 'x']);
  }

  // ---- putting it together --------------------------------------------------------------

  private assemble(model: OperationModel, parts: Parts, request: PlannedRequest): void {
    const op = model.operation;
    const pathValues: Record<string, string> = {};
    let decodable = true;
    let path = op.path;
    for (const [name, value] of parts.path) {
      let decoded: string;
      let encoded: string;
      if ('encoded' in value) {
        encoded = value.encoded;
        try {
          decoded = decodeURIComponent(value.encoded);
        } catch {
          decodable = false;
          decoded = value.encoded;
        }
      } else {
        decoded = value.value;
        encoded = encodeURIComponent(value.value);
      }
      pathValues[name] = decoded;
      path = path.replace(`{${name}}`, encoded);
    }
    const query = parts.query.join('&');
    request.path = query ? `${path}?${query}` : path;
    const auth = parts.auth ?? { header: `Bearer ${request.actor!.token}`, outcome: 'valid' as const, note: '' };
    if (auth.header !== undefined) request.headers.Authorization = auth.header;
    Object.assign(request.headers, parts.headers);
    if (parts.raw) {
      const raw = parts.raw;
      request.body = raw.body;
      request.chunked = raw.chunked;
      if (raw.contentType !== null) request.headers['Content-Type'] = raw.contentType ?? 'application/json';
      if (raw.contentEncoding) request.headers['Content-Encoding'] = raw.contentEncoding;
    } else if (parts.body) {
      request.body = Buffer.from(parts.body.text, 'utf8');
      request.headers['Content-Type'] = 'application/json';
    }
    request.expect = this.expectation(model, parts, pathValues, decodable, auth, request.path);
  }

  // In the order the server checks (contract, "How a request flows"): the body's bytes, the
  // token, then path, query, headers and body against the operation, then the data.
  private expectation(
    model: OperationModel,
    parts: Parts,
    pathValues: Record<string, string>,
    decodable: boolean,
    auth: AuthVariant,
    fullPath: string,
  ): Expectation {
    const op = model.operation;
    const [pathOnly, queryText = ''] = fullPath.split(/\?(.*)/s);
    const addressed = this.model.contract.match(op.method, pathOnly!);
    if (addressed?.operationId !== op.operationId) {
      return addressed ? { kind: 'any' } : { kind: 'reject', codes: ['route_not_found'] };
    }
    if (model.bodySchema && parts.raw && parts.raw.expect.kind !== 'as-parsed') return parts.raw.expect;
    if (!op.isPublic && auth.outcome === 'refused') return { kind: 'reject', codes: ['unauthenticated'] };
    if (!op.isPublic && auth.outcome === 'unclear') return { kind: 'any' };
    if (!decodable) return { kind: 'reject', codes: ['validation_failed'] };
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(parts.headers)) {
      const lower = name.toLowerCase();
      if (op.headerNames.has(lower)) headers[lower] = Array.isArray(value) ? value.join(', ') : value.trim();
    }
    const body = parts.raw ? parts.body?.value : parts.body?.value;
    const valid =
      op.validatePath({ ...pathValues }) &&
      op.validateQuery({ ...querystring.parse(queryText) }) &&
      op.validateHeaders(headers) &&
      (!op.validateBody || op.validateBody(body));
    if (!valid) return { kind: 'reject', codes: ['validation_failed'] };
    return parts.semantic ?? { kind: 'accept' };
  }

  // ---- requests outside the contract ----------------------------------------------------

  /** An undeclared method on a contract path, or a near miss of a contract path. */
  private route(draw: Draw): PlannedRequest {
    const actor = this.world.accounts[0]!;
    const model = draw.pick(this.model.operations);
    const chat = actor.chats[0];
    const path = fill(model.operation.path, {
      chatId: chat?.id ?? draw.value(fc.uuid()),
      messageId: chat?.replyIds[0] ?? chat?.greetingId ?? draw.value(fc.uuid()),
      characterId: this.world.characters[0] ?? 'captain-mira',
    });
    let method: string;
    let target: string;
    let note: string;
    if (draw.chance(0.65)) {
      const declared = this.model.operations
        .filter((m) => m.operation.path === model.operation.path)
        .map((m) => m.operation.method);
      method = draw.weighted(
        METHODS.filter((m) => !declared.includes(m)).map(
          (m) =>
            [
              m === 'HEAD' || m === 'OPTIONS' ? 6 : ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(m) ? 3 : 0.3,
              m,
            ] as const,
        ),
      );
      target = path;
      note = `${method}, which ${model.operation.path} does not declare`;
    } else {
      method = model.operation.method;
      const variant = draw.pick([
        ['trailing slash', `${path}/`],
        ['upper case', path.toUpperCase()],
        ['double slash', path.replace(/\/(?=[^/]*$)/, '//')],
        ['leading double slash', `/${path}`],
        ['unversioned /api', path.replace('/api/v1/', '/api/')],
        ['/api/v2', path.replace('/api/v1/', '/api/v2/')],
        ['extra segment', `${path}/extra`],
        ['suffix', `${path}.json`],
        ['percent-encoded letter', path.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`)],
        ['semicolon parameter', `${path};v=1`],
        ['the version root', '/api/v1'],
        ['the root', '/'],
        ['an unknown page', '/api/v1/nothing-here'],
        ['a near-miss document', '/openapi.yml'],
      ] as const);
      target = variant[1];
      note = `${variant[0]}: ${target}`;
    }
    const headers: Record<string, string> = { Authorization: `Bearer ${actor.token}` };
    const request: PlannedRequest = {
      operationId: NO_OPERATION,
      mode: 'route',
      notes: [note],
      expect: { kind: 'reject', codes: ['route_not_found'] },
      method,
      path: target,
      headers,
      actor,
      target: {},
    };
    if (method !== 'HEAD' && draw.chance(0.3)) {
      headers['Content-Type'] = 'application/json';
      request.body = Buffer.from(JSON.stringify({ content: 'hello', title: 'x' }));
    }
    this.noise(draw, request);
    const addressed = this.model.contract.match(method, target.split('?')[0]!);
    if (addressed) {
      // A variant that happens to be another operation's path is that operation's request.
      request.operationId = addressed.operationId;
      request.expect = { kind: 'any' };
    }
    return request;
  }
}

/** A key as an Idempotency-Key header: bare or as a structured-field string, as the key allows. */
function keyHeader(draw: Draw, key: string): string {
  const quotable = !/["\\]/.test(key);
  const bare = !/[ "]/.test(key);
  return quotable && (!bare || draw.chance(0.3)) ? `"${key}"` : key;
}

/** What Node lets through as a header value: tab, printable ASCII and Latin-1. */
function sendable(text: string): string {
  return text.replace(/[^\t\x20-\x7e\x80-\xff]/g, '');
}

/** A path template with its parameters filled in (encoded). */
export function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{([^}]+)\}/g, (_m, name: string) => encodeURIComponent(values[name] ?? ''));
}

/**
 * Whether a `parley.chat` file's tree (contract, `ChatImport`) names what it does not hold: with
 * any `parentId` present, the first message has none, every other names the unique `id` of an
 * earlier one, and `activeLeafId`, when given, names a message of the file.
 */
function brokenImportTree(body: unknown): boolean {
  const file = body as { format?: unknown; chat?: { activeLeafId?: unknown }; messages?: unknown };
  if (typeof file !== 'object' || file === null || file.format !== 'parley.chat' || !Array.isArray(file.messages))
    return false;
  const messages = file.messages as Array<{ id?: unknown; parentId?: unknown } | null>;
  if (!messages.some((m) => typeof m === 'object' && m !== null && m.parentId !== undefined)) return false;
  const ids = new Set<unknown>();
  for (const [i, message] of messages.entries()) {
    if (typeof message !== 'object' || message === null) return false;
    const parent = message.parentId ?? null;
    if (i === 0 ? parent !== null : parent === null || !ids.has(parent)) return true;
    if (message.id === undefined || ids.has(message.id)) return true;
    ids.add(message.id);
  }
  const leaf = file.chat?.activeLeafId;
  return leaf !== undefined && leaf !== null && !ids.has(leaf);
}
