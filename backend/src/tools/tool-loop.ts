import { Injectable, Logger, Optional } from '@nestjs/common';
import { toolCallSpan } from '../telemetry/tracing/spans.js';
import type { Locale, StreamEvent, ToolCall, ToolError, ToolErrorCode } from '@parley/api-types';
import { AppConfig } from '../config/app-config.js';
import { ModerationService } from '../moderation/moderation.service.js';
import type { ToolCallEntity } from '../chats/tool-call.entity.js';
import type { ProviderToolCall, ToolDeclaration, ToolExchange } from '../providers/provider.port.js';
import { toToolCallDto } from './tool-call.mapper.js';
import { ToolCallStore } from './tool-call.store.js';
import { ToolRegistry } from './tool-registry.js';
import { McpToolsService } from './mcp-tools.service.js';
import { ToolMetrics } from './tool.metrics.js';
import { ToolFailure, type Tool } from './tool.types.js';

/** What the tool loop needs of a running turn (generation's Turn provides it). */
export interface ToolTurn {
  readonly messageId: string;
  readonly signal: AbortSignal;
  /** The reply's text so far (where a step's calls happen among the deltas). */
  readonly text: string;
  readonly init: {
    userId: string;
    chatId: string;
    locale: Locale;
    userMessage: { id: string };
    prompt: { tools?: string[] };
    freshUserMessage?: boolean;
  };
  readonly attempts: ReadonlyArray<unknown>;
  publish(event: StreamEvent): void;
}

type Final = 'complete' | 'failed' | 'interrupted';
type ToolEvent = Extract<StreamEvent, { type: 'tool_call' | 'tool_result' }>;

/**
 * A step's tool events in one order on every stream, whichever call finishes first: every call
 * (by index), then every result (by index). A re-attaching client is given the stored calls in
 * the same order (`toolEventsOf`), so an event id counting them resumes at the right one.
 */
class StepEvents {
  private readonly held: Array<ToolEvent | undefined>;
  private next = 0;

  constructor(
    private readonly turn: ToolTurn,
    private readonly size: number,
  ) {
    this.held = new Array<ToolEvent | undefined>(size * 2);
  }

  publish(index: number, event: ToolEvent): void {
    this.held[(event.type === 'tool_call' ? 0 : this.size) + index] = event;
    for (let ready = this.held[this.next]; ready; ready = this.held[this.next]) {
      this.turn.publish(ready);
      this.next++;
    }
  }
}

/** A stored call's event as the live stream sent it, and where it goes among the reply's text. */
export interface StoredToolEvent {
  offset: number;
  event: ToolEvent;
}

/**
 * The tool events of a reply's stored calls, in the order its stream sent them (see StepEvents):
 * step by step, the calls then the results. A step is given only as far as it is known: its
 * calls once all are stored, its results in index order as far as they are final.
 */
export function toolEventsOf(rows: readonly ToolCallEntity[]): StoredToolEvent[] {
  const events: StoredToolEvent[] = [];
  const steps = new Map<number, ToolCallEntity[]>();
  for (const row of rows) steps.set(row.step, [...(steps.get(row.step) ?? []), row]);
  for (const [, stepRows] of [...steps].sort(([a], [b]) => a - b)) {
    const calls = [...stepRows].sort((a, b) => a.index - b.index);
    const size = Math.max(...calls.map((c) => c.stepCalls));
    const offset = Math.min(...calls.map((c) => c.textOffset));
    const known = calls.every((call, i) => call.index === i) && calls.length === size;
    for (const [i, call] of calls.entries()) {
      if (call.index !== i) return events;
      const dto = toToolCallDto(call);
      events.push({
        offset,
        event: {
          type: 'tool_call',
          messageId: call.messageId,
          call: {
            ...dto,
            status: 'running',
            result: null,
            error: null,
            startedAt: null,
            finishedAt: null,
            durationMs: null,
          },
        },
      });
    }
    if (!known) return events;
    for (const call of calls) {
      if (!isFinal(call.status)) return events;
      events.push({ offset, event: { type: 'tool_result', messageId: call.messageId, call: toToolCallDto(call) } });
    }
  }
  return events;
}

/**
 * The tool side of one provider attempt. It starts from what is stored (the reply's completed
 * steps, and those of an earlier reply to the same message that died), so a retry, a failover or
 * a recovery continues after them instead of asking, and running, again. Each call the model asks
 * for is stored before it runs, keyed by (reply, step, index); one already stored is reused.
 */
export class ToolSession {
  /** The earlier steps, given to the model with every request. */
  readonly exchanges: ToolExchange[];
  private nextStep: number;

  constructor(
    private readonly loop: ToolLoop,
    private readonly turn: ToolTurn,
    private readonly provider: string,
    readonly declarations: ToolDeclaration[],
    exchanges: ToolExchange[],
    nextStep: number,
  ) {
    this.exchanges = exchanges;
    this.nextStep = nextStep;
  }

  get offered(): string[] {
    return this.declarations.map((d) => d.name);
  }

  /** Whether the model may still call tools (the step limit not yet reached). */
  get mayCallTools(): boolean {
    return this.exchanges.length < this.loop.stepLimit;
  }

  /** Runs the calls the model asked for (in parallel) and records the step; `limited` refuses them all. */
  async step(text: string, calls: ProviderToolCall[], limited: boolean): Promise<void> {
    const step = this.nextStep++;
    const events = new StepEvents(this.turn, calls.length);
    const at = { step, of: calls.length, offset: this.turn.text.length };
    const results = await Promise.all(
      calls.map((call, index) =>
        this.loop.runCall(this.turn, this.provider, this.offered, { ...at, index }, call, limited, (event) =>
          events.publish(index, event),
        ),
      ),
    );
    this.exchanges.push({
      text,
      calls: results.map((row, index) => ({
        id: row.providerCallId ?? calls[index]?.id ?? row.id,
        name: row.toolName,
        arguments: calls[index]?.arguments ?? row.parameters,
        response: responseOf(row),
      })),
    });
  }
}

@Injectable()
export class ToolLoop {
  private readonly logger = new Logger(ToolLoop.name);
  // Turns that stored or found calls (their result then carries them).
  private readonly touched = new WeakSet<ToolTurn>();

  constructor(
    private readonly config: AppConfig,
    private readonly registry: ToolRegistry,
    private readonly store: ToolCallStore,
    private readonly moderation: ModerationService,
    @Optional() private readonly mcp?: McpToolsService,
    @Optional() private readonly metrics?: ToolMetrics,
  ) {}

  get stepLimit(): number {
    return this.config.generation.tools.stepLimit;
  }

  /** The tools among a character's that exist here, and the MCP tools the operator gave it, for the prompt. */
  offeredTo(characterTools: readonly string[], characterId: string): string[] {
    return this.registry.available([...characterTools, ...(this.mcp?.toolsFor(characterId) ?? [])]);
  }

  declarationChars(names: readonly string[]): number {
    return names.length === 0 ? 0 : this.registry.declarationChars(names);
  }

  /** A session for one provider attempt, resumed from what is stored. */
  async session(turn: ToolTurn, provider: string): Promise<ToolSession> {
    const declarations = this.registry.declarations(turn.init.prompt.tools ?? []);
    if (declarations.length === 0) return new ToolSession(this, turn, provider, [], [], 1);
    // A user message this turn stored has no calls yet until this turn makes some: no read.
    const nothingStored = turn.init.freshUserMessage === true && !this.touched.has(turn);
    const rows = nothingStored ? [] : await this.store.resumable(turn.messageId, turn.init.userMessage.id);
    if (rows.length > 0) this.touched.add(turn);
    const exchanges: ToolExchange[] = [];
    let lastStep = 0;
    let current = '';
    for (const row of rows) {
      const key = `${row.messageId}:${row.step}`;
      if (key !== current) {
        exchanges.push({ text: '', calls: [] });
        current = key;
      }
      if (row.messageId === turn.messageId) lastStep = Math.max(lastStep, row.step);
      exchanges.at(-1)?.calls.push({
        id: row.providerCallId ?? row.id,
        name: row.toolName,
        arguments: row.parameters,
        response: responseOf(row),
      });
    }
    return new ToolSession(this, turn, provider, declarations, exchanges, lastStep + 1);
  }

  /** The stored calls of a reply, in order, as the contract shows them. */
  async callsOf(messageId: string): Promise<ToolCall[]> {
    return (await this.store.ofMessages([messageId])).map(toToolCallDto);
  }

  /** A reply's stored tool events, in stream order, with where each goes among its text. */
  async storedEvents(messageId: string): Promise<StoredToolEvent[]> {
    return toolEventsOf(await this.store.ofMessages([messageId]));
  }

  /** The calls of a running turn's reply; no read when it made none (the common case). */
  async callsOfTurn(turn: ToolTurn): Promise<ToolCall[]> {
    return this.touched.has(turn) ? this.callsOf(turn.messageId) : [];
  }

  /**
   * One call, in its own trace span: stored, checked, run under its timeout, its result bounded
   * and moderated, stored again.
   */
  runCall(
    turn: ToolTurn,
    provider: string,
    offered: string[],
    at: CallPosition,
    call: ProviderToolCall,
    limited: boolean,
    emit: (event: ToolEvent) => void,
  ): Promise<ToolCallEntity> {
    return toolCallSpan({ tool: call.name, step: at.step, index: at.index }, () =>
      this.runOne(turn, provider, offered, at, call, limited, emit),
    );
  }

  private async runOne(
    turn: ToolTurn,
    provider: string,
    offered: string[],
    { step, index, of, offset }: CallPosition,
    call: ProviderToolCall,
    limited: boolean,
    emit: (event: ToolEvent) => void,
  ): Promise<ToolCallEntity> {
    const publish = (type: ToolEvent['type'], row: ToolCallEntity) =>
      emit({ type, messageId: turn.messageId, call: toToolCallDto(row) });
    this.touched.add(turn);
    const tool = this.registry.get(call.name);
    const shownArguments = this.shownArguments(call.arguments, turn.init.locale);
    const { row, existed } = await this.store.reserve({
      chatId: turn.init.chatId,
      messageId: turn.messageId,
      step,
      index,
      toolName: call.name.slice(0, 128),
      parameters: shownArguments.value,
      idempotent: tool?.idempotent ?? true,
      provider,
      attempt: Math.max(1, turn.attempts.length),
      providerCallId: call.id?.slice(0, 128) ?? null,
      textOffset: offset,
      stepCalls: of,
    });
    if (existed && isFinal(row.status)) {
      // Already done by an earlier run of this turn: its result, never a second execution.
      this.metrics?.calls.inc({ tool: this.label(row.toolName), outcome: 'reused' });
      publish('tool_call', row);
      publish('tool_result', row);
      return row;
    }
    publish('tool_call', { ...row, status: 'running' });
    if (existed && tool && !tool.idempotent) {
      return this.end(publish, row, 'interrupted', null, {
        code: 'interrupted',
        message: 'an earlier run of this call was cut short; it has side effects, so it was not run again',
      });
    }
    if (limited) {
      return this.end(publish, row, 'failed', null, {
        code: 'step_limit',
        message: `the reply already used its ${this.stepLimit} tool steps; answer without tools`,
      });
    }
    if (shownArguments.blocked) {
      return this.end(publish, row, 'failed', null, {
        code: 'content_blocked',
        message: 'the arguments were blocked by the content policy',
      });
    }
    let resolved: { tool: Tool; args: Record<string, unknown> };
    try {
      resolved = this.registry.resolve(call.name, offered, call.arguments);
    } catch (error) {
      return this.end(publish, row, 'failed', null, toolError(error));
    }
    const running = await this.store.markRunning(row.id);
    try {
      const result = await this.execute(resolved.tool, resolved.args, turn, running);
      return this.end(publish, running, 'complete', this.bounded(result, turn.init.locale), null);
    } catch (error) {
      if (turn.signal.aborted) {
        await this.end(publish, running, 'interrupted', null, {
          code: 'interrupted',
          message: 'the reply was stopped',
        });
        throw turn.signal.reason;
      }
      return this.end(publish, running, 'failed', null, toolError(error));
    }
  }

  /** Calls left behind by a process that died are marked interrupted (at start and periodically). */
  interruptOrphans(): Promise<number> {
    return this.store.interruptOrphans();
  }

  private async execute(
    tool: Tool,
    args: Record<string, unknown>,
    turn: ToolTurn,
    row: ToolCallEntity,
  ): Promise<unknown> {
    const timeoutMs = tool.timeoutMs ?? this.config.generation.tools.timeoutMs;
    const timeout = new AbortController();
    const signal = AbortSignal.any([turn.signal, timeout.signal]);
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        tool.run(args, {
          userId: turn.init.userId,
          chatId: turn.init.chatId,
          messageId: turn.messageId,
          callId: row.id,
          signal,
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            timeout.abort();
            reject(new ToolFailure('tool_timeout', `the tool did not answer within ${timeoutMs} ms`));
          }, timeoutMs);
          signal.addEventListener('abort', () => reject(new ToolFailure('tool_timeout', 'stopped')), { once: true });
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A result too large for the model is cut, with a marker it can read. Blocked text is withheld. */
  private bounded(result: unknown, locale: Locale): unknown {
    const max = this.config.generation.tools.resultMaxChars;
    let text: string;
    try {
      text = JSON.stringify(result ?? null);
    } catch {
      throw new ToolFailure('tool_failed', 'the tool returned something that is not JSON');
    }
    const verdict = this.moderation.check(text, 'output', locale);
    if (!verdict.allowed) throw new ToolFailure('content_blocked', 'the result was blocked by the content policy');
    if (text.length <= max) return result ?? null;
    return { truncated: true, text: `${text.slice(0, max)}…` };
  }

  /** The arguments as stored and shown to the user; withheld when they break the content policy. */
  private shownArguments(args: unknown, locale: Locale): { value: Record<string, unknown>; blocked: boolean } {
    const value = isRecord(args) ? args : { value: args };
    const verdict = this.moderation.check(JSON.stringify(value), 'output', locale);
    return verdict.allowed ? { value, blocked: false } : { value: {}, blocked: true };
  }

  private async end(
    publish: (type: ToolEvent['type'], row: ToolCallEntity) => void,
    row: ToolCallEntity,
    status: Final,
    result: unknown,
    error: ToolError | null,
  ): Promise<ToolCallEntity> {
    let ended: ToolCallEntity;
    try {
      ended = await this.store.finish(row.id, { status, result, error });
    } catch (failure) {
      // The model still hears the outcome; the sweep marks the row interrupted later.
      this.logger.warn({ event: 'tool_call_not_stored', callId: row.id }, String(failure));
      ended = Object.assign(Object.create(Object.getPrototypeOf(row) as object) as ToolCallEntity, row, {
        status,
        result,
        error,
      });
    }
    this.metrics?.calls.inc({ tool: this.label(ended.toolName), outcome: error?.code ?? 'complete' });
    if (ended.durationMs !== null && row.status === 'running') {
      this.metrics?.duration.observe({ tool: this.label(ended.toolName) }, ended.durationMs / 1000);
    }
    publish('tool_result', ended);
    return ended;
  }

  /** A metric label: the tool's name when it is one of ours, so a model cannot grow the label set. */
  private label(name: string): string {
    return this.registry.get(name) ? name : 'unknown';
  }
}

/** A call's place: its step (of `of` calls, asked when the reply's text was `offset` long) and index. */
interface CallPosition {
  step: number;
  index: number;
  of: number;
  offset: number;
}

function isFinal(status: string): status is Final {
  return status === 'complete' || status === 'failed' || status === 'interrupted';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toolError(error: unknown): ToolError {
  if (error instanceof ToolFailure) return { code: error.code, message: error.message };
  const code: ToolErrorCode = 'tool_failed';
  return { code, message: error instanceof Error ? error.message.slice(0, 500) : 'the tool failed' };
}

/** What the model is told of a call: its result, or its error. */
function responseOf(row: ToolCallEntity): Record<string, unknown> {
  if (row.status === 'complete') return { result: row.result ?? null };
  return {
    error: row.error ?? { code: 'interrupted', message: 'the call did not finish; it was not run again' },
  };
}
