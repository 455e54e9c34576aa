import type { ToolErrorCode } from '@parley/api-types';

/** What a running tool may know about the call it serves. */
export interface ToolContext {
  userId: string;
  chatId: string;
  /** The reply the call belongs to. */
  messageId: string;
  /** The stored call's id: stable across re-runs, so it seeds dice and keys side effects. */
  callId: string;
  /** Fires at the call's timeout or when the turn ends. */
  signal: AbortSignal;
}

/** A tool a character may call: a JSON Schema for its arguments, and whether running it twice is harmless. */
export interface Tool {
  readonly name: string;
  readonly description: string;
  /** JSON Schema (an object schema) the arguments are validated against before the tool runs. */
  readonly parameters: Record<string, unknown>;
  /** False for a tool with effects outside the reply: after a crash mid-call it is not run again. */
  readonly idempotent: boolean;
  /** Where the tool comes from (built-in when left out). */
  readonly source?: 'builtin' | 'mcp';
  /** Overrides the configured per-call timeout. */
  readonly timeoutMs?: number;
  run(args: Record<string, unknown>, context: ToolContext): Promise<unknown>;
}

/** A failure a tool reports; the model is told `message` (never user text in it). */
export class ToolFailure extends Error {
  constructor(
    readonly code: ToolErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ToolFailure';
  }
}
