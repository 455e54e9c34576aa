import fc from 'fast-check';
import type { ContractModel } from './contract-model.js';
import { Draw } from './draw.js';
import { judge, type Finding, type Verdict } from './oracle.js';
import { fill, type Planner, type PlannedRequest } from './planner.js';
import { parseEventStream, sendRaw, type RawResponse } from './raw-http.js';
import type { Account, World } from './world.js';

export interface FuzzOptions {
  seed: number;
  /** How to run the same sequence again (printed with every failure). */
  replay: string;
  port: number;
  /** Longest wait for a whole response (streams included). */
  timeoutMs: number;
  /** Share of draws that start a batch of 2 to 4 requests sent together. */
  concurrentShare: number;
  /**
   * Slows the model provider down while a turn with a request sent alongside it runs, so that
   * request meets the reply still being written; called with false when it is over.
   */
  slowProvider?: (slow: boolean) => void;
}

interface Example {
  index: string;
  finding: Finding;
  request: PlannedRequest;
  response?: RawResponse;
}

interface FailureClass {
  count: number;
  /** The first request of each distinct cause (mode and what was varied), up to a few. */
  examples: Map<string, Example>;
}

const EXAMPLES_PER_CLASS = 3;

/** The chats each fixture account keeps, so deletions never leave valid requests without one. */
const MIN_CHATS = 3;

/**
 * Sends the planned requests in a seeded order, judges every response, keeps the world up to
 * date from what the server answered, and gathers failures by class (operation, check, status,
 * code) with the first request of each, so one run shows every kind of problem.
 */
export class FuzzRun {
  readonly counts = new Map<string, number>();
  /** Milliseconds spent waiting for responses, per operation (where a run's time goes). */
  readonly waited = new Map<string, number>();
  /** One line per response (operation, mode, status, code, milliseconds), for the optional report. */
  readonly log: string[] = [];
  private readonly failures = new Map<string, FailureClass>();
  private sent = 0;

  constructor(
    private readonly options: FuzzOptions,
    private readonly contract: ContractModel,
    private readonly planner: Planner,
    private readonly world: World,
  ) {}

  get total(): number {
    return this.sent;
  }

  async run(schedule: string[]): Promise<void> {
    const draws = fc.sample(fc.gen(), { seed: this.options.seed, numRuns: schedule.length }).map((g) => new Draw(g));
    let index = 0;
    while (index < schedule.length) {
      const size = draws[index]!.chance(this.options.concurrentShare) ? draws[index]!.int(2, 4) : 1;
      const batch: Array<{ index: number; request: PlannedRequest }> = [];
      for (let n = 0; n < size && index < schedule.length; n++, index++) {
        batch.push({ index, request: this.planner.plan(draws[index]!, schedule[index]!) });
      }
      await Promise.all(batch.map(({ index: at, request }) => this.execute(String(at), request)));
      await this.replenish();
    }
  }

  /** Sends one request, judges it, learns from it. Fixture requests go through here too. */
  async execute(index: string, request: PlannedRequest, counted = true): Promise<Verdict | undefined> {
    if (counted) {
      this.counts.set(request.operationId, (this.counts.get(request.operationId) ?? 0) + 1);
      this.sent++;
    }
    let side: Promise<unknown> | undefined;
    const onData = request.side
      ? (received: Buffer) => {
          if (side) return;
          const started = parseEventStream(received.toString('utf8')).find((e) => e.event === 'turn_started');
          const replyId = started?.data
            ? (JSON.parse(started.data) as { assistantMessage?: { id?: string } }).assistantMessage?.id
            : undefined;
          if (replyId)
            side = this.execute(`${index}+${request.side}`, this.planner.side(request.side!, request, replyId));
        }
      : undefined;
    let response: RawResponse;
    if (request.side) this.slow(+1);
    try {
      response = await sendRaw(this.options.port, request, this.options.timeoutMs, onData);
    } catch (error) {
      this.record(index, request, undefined, { check: 'no response', detail: String(error) });
      await side;
      return undefined;
    } finally {
      if (request.side) this.slow(-1);
    }
    await side;
    this.waited.set(request.operationId, (this.waited.get(request.operationId) ?? 0) + response.ms);
    const verdict = judge(this.contract, request, response);
    this.log.push(
      `${index} ${request.operationId} ${request.mode} → ${response.status} ${verdict.code ?? ''} ${Math.round(response.ms)} ms` +
        ` [${request.actor?.name ?? '-'} ${request.method} ${request.path.slice(0, 100)}]: ${request.notes.join('; ')}`,
    );
    for (const finding of verdict.findings) this.record(index, request, response, finding);
    this.learn(request, response, verdict);
    return verdict;
  }

  private slowTurns = 0;

  private slow(change: number): void {
    const before = this.slowTurns;
    this.slowTurns += change;
    if ((before === 0) !== (this.slowTurns === 0)) this.options.slowProvider?.(this.slowTurns > 0);
  }

  failureReport(): string[] {
    return [...this.failures.entries()].map(([key, failure]) => describe(this.options, key, failure));
  }

  private record(index: string, request: PlannedRequest, response: RawResponse | undefined, finding: Finding): void {
    const code = response ? codeOf(response) : '';
    const key = `${request.operationId} | ${finding.check} | ${response?.status ?? 'no response'}${code ? ` ${code}` : ''}`;
    const failure = this.failures.get(key) ?? { count: 0, examples: new Map<string, Example>() };
    this.failures.set(key, failure);
    failure.count++;
    const cause = `${request.mode}: ${request.notes.at(-1)?.replace(/"[^"]*"|\d+/g, '…') ?? ''}`;
    if (!failure.examples.has(cause) && failure.examples.size < EXAMPLES_PER_CLASS) {
      failure.examples.set(cause, { index, finding, request, response });
    }
  }

  private learn(request: PlannedRequest, response: RawResponse, verdict: Verdict): void {
    const actor = request.actor;
    const status = response.status;
    if (!actor || status >= 400) return;
    const json = verdict.json as Record<string, unknown> | undefined;
    switch (verdict.operationId) {
      case 'register': {
        const body = safeJson(request.body);
        if (status === 201 && typeof body?.email === 'string' && typeof body.password === 'string') {
          this.world.registered.push({ email: body.email, password: body.password });
        }
        break;
      }
      case 'createChat':
        if (status === 201 && json)
          this.world.addChat(actor, json as { id: string; lastMessage: { id: string } | null });
        break;
      case 'deleteChat':
        if (status === 204 && request.target.chatId) this.world.removeChat(actor, request.target.chatId);
        break;
      case 'signOutEverywhere':
        if (status === 204 && actor === this.world.revocable) this.world.revoked = true;
        break;
      case 'listChats':
        if (typeof json?.nextCursor === 'string') this.world.addCursor(actor, json.nextCursor);
        break;
      case 'sendMessage':
      case 'regenerateMessage':
        if (json) {
          this.world.addTurn(json);
          this.remember(actor, request, (json.assistantMessage as { id?: string } | undefined)?.id);
        }
        break;
      case 'sendMessageStream':
      case 'regenerateMessageStream':
      case 'followMessage':
        for (const event of verdict.events) {
          const data = event.data;
          if (data.type === 'turn_started') {
            this.world.addTurn(data);
            this.remember(actor, request, (data.assistantMessage as { id?: string } | undefined)?.id);
          }
          const replyId = data.type === 'turn_started' ? (data.assistantMessage as { id?: string }).id : data.messageId;
          if (typeof replyId === 'string' && event.id) this.world.addEventId(replyId, event.id);
        }
        break;
    }
  }

  private remember(actor: Account, request: PlannedRequest, replyId: string | undefined): void {
    const turn = request.turn;
    if (!turn?.key) return;
    this.world.addKey(actor, { ...turn, key: turn.key, replyId });
  }

  // Deleted chats are replaced, through the API, so valid requests keep finding real ones; an
  // account signed out everywhere is signed in again.
  private async replenish(): Promise<void> {
    const revocable = this.world.revocable;
    if (this.world.revoked && revocable) {
      const verdict = await this.execute('fixture', loginRequest(revocable), false);
      const token = (verdict?.json as { accessToken?: unknown } | undefined)?.accessToken;
      if (typeof token === 'string') revocable.token = token;
      this.world.revoked = false;
    }
    for (const account of this.world.accounts) {
      while (account.chats.length < MIN_CHATS) {
        const before = account.chats.length;
        await this.execute('fixture', createChatRequest(this.contract, account, this.world.characters[0]!), false);
        if (account.chats.length === before) break;
      }
    }
  }
}

export function loginRequest(account: Account): PlannedRequest {
  return {
    operationId: 'login',
    mode: 'fixture',
    notes: [],
    expect: { kind: 'accept' },
    method: 'POST',
    path: '/api/v1/auth/login',
    headers: { 'Content-Type': 'application/json' },
    body: Buffer.from(JSON.stringify({ email: account.email, password: account.password })),
    target: {},
  };
}

export function createChatRequest(contract: ContractModel, account: Account, characterId: string): PlannedRequest {
  return {
    operationId: 'createChat',
    mode: 'fixture',
    notes: [],
    expect: { kind: 'accept' },
    method: 'POST',
    path: contract.model('createChat').operation.path,
    headers: { Authorization: `Bearer ${account.token}`, 'Content-Type': 'application/json' },
    body: Buffer.from(JSON.stringify({ characterId })),
    actor: account,
    target: {},
  };
}

/** A valid turn for a fixture chat, in the JSON or the streaming form. */
export function sendRequest(
  contract: ContractModel,
  account: Account,
  chatId: string,
  content: string,
  stream: boolean,
): PlannedRequest {
  const operationId = stream ? 'sendMessageStream' : 'sendMessage';
  const key = `fixture-${chatId}-${stream ? 's' : 'j'}`;
  return {
    operationId,
    mode: 'fixture',
    notes: [],
    expect: { kind: 'accept' },
    method: 'POST',
    path: fill(contract.model(operationId).operation.path, { chatId }),
    headers: { Authorization: `Bearer ${account.token}`, 'Content-Type': 'application/json', 'Idempotency-Key': key },
    body: Buffer.from(JSON.stringify({ content })),
    actor: account,
    target: { chatId },
    turn: { kind: 'send', chatId, content, key },
  };
}

function describe(options: FuzzOptions, key: string, failure: FailureClass): string {
  return [`${key} — ${failure.count}×`, ...[...failure.examples.values()].map((e) => describeExample(options, e))].join(
    '\n',
  );
}

function describeExample(options: FuzzOptions, example: Example): string {
  const { request, response } = example;
  const headers = Object.entries(request.headers)
    .map(
      ([name, value]) => `    ${name}: ${name === 'Authorization' ? elideToken(String(value)) : JSON.stringify(value)}`,
    )
    .join('\n');
  const lines = [
    `  ${example.finding.detail}`,
    `  seed ${options.seed}, request #${example.index} (replay: ${options.replay}); mode ${request.mode}: ${request.notes.join('; ') || '—'}`,
    `  expected: ${request.expect.kind === 'reject' ? `4xx ${request.expect.codes.join('|')}` : request.expect.kind}`,
    `  ${request.method} ${request.path}${request.chunked ? ' (chunked)' : ''}`,
    headers,
  ];
  if (request.body) lines.push(`    body (${request.body.length} bytes): ${showBytes(request.body)}`);
  if (response) {
    lines.push(
      `  → ${response.status} ${String(response.headers['content-type'] ?? '')} x-request-id=${String(response.headers['x-request-id'] ?? '')}` +
        `${response.headers['retry-after'] !== undefined ? ` retry-after=${String(response.headers['retry-after'])}` : ''}`,
      `    ${showBytes(response.body, 600)}`,
    );
  }
  return lines.join('\n');
}

function showBytes(bytes: Buffer, max = 300): string {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  const valid = Buffer.from(text, 'utf8').equals(bytes);
  if (!valid) return `base64:${bytes.subarray(0, max).toString('base64')}${bytes.length > max ? '…' : ''}`;
  const shown = text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
  return JSON.stringify(shown);
}

function elideToken(value: string): string {
  return value.replace(/([A-Za-z0-9_-]{12})[A-Za-z0-9_-]{20,}(\.[A-Za-z0-9_-]*)*/, '$1…');
}

function codeOf(response: RawResponse): string {
  try {
    const body = JSON.parse(response.body.toString('utf8')) as { code?: unknown };
    return typeof body.code === 'string' ? body.code : '';
  } catch {
    return '';
  }
}

function safeJson(body: Buffer | undefined): Record<string, unknown> | undefined {
  try {
    return body ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
