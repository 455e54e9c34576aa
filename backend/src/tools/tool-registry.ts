import { Injectable } from '@nestjs/common';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { ToolInfo } from '@parley/api-types';
import type { ToolDeclaration } from '../providers/provider.port.js';
import { ChatMemoryService } from './chat-memory.service.js';
import { diceTool } from './builtin/dice.tool.js';
import { memoryTools } from './builtin/memory.tools.js';
import { timeTool } from './builtin/time.tool.js';
import { ToolFailure, type Tool } from './tool.types.js';

// A tool name the providers accept (Gemini: letters, digits, _ . : -, at most 64; OpenAI: ^[a-zA-Z0-9_-]{1,64}$).
const TOOL_NAME = /^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$/;

interface Registered {
  tool: Tool;
  validate: ValidateFunction;
}

/**
 * Every tool a character may be given: the built-ins (dice, time, memory) and any registered
 * later (MCP servers, tests). Arguments are checked against each tool's JSON Schema by Ajv before
 * the tool runs; a model that sends bad arguments gets the schema's complaint back, not a crash.
 */
@Injectable()
export class ToolRegistry {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });
  private readonly tools = new Map<string, Registered>();

  constructor(memory: ChatMemoryService) {
    for (const tool of [diceTool, timeTool, ...memoryTools(memory)]) this.register(tool);
  }

  /** Adds a tool, or replaces one of the same name (a refreshed MCP listing). */
  register(tool: Tool): void {
    if (!TOOL_NAME.test(tool.name)) throw new Error(`invalid tool name ${tool.name}`);
    // A schema's `$schema` (MCP servers send draft-07's) names a dialect; ours is 2020-12 for all,
    // and providers are given the schema without it.
    const { $schema: _dialect, ...parameters } = tool.parameters;
    this.tools.set(tool.name, { tool: { ...tool, parameters }, validate: this.ajv.compile(parameters) });
  }

  unregister(name: string): void {
    this.tools.delete(name);
  }

  get(name: string): Tool | undefined {
    return this.tools.get(name)?.tool;
  }

  /** Every tool a character may be given: the built-ins in the order registered, then MCP tools by name. */
  list(): ToolInfo[] {
    const all = [...this.tools.values()].map(({ tool }) => ({
      name: tool.name,
      description: tool.description,
      source: tool.source ?? ('builtin' as const),
      idempotent: tool.idempotent,
    }));
    return [
      ...all.filter((t) => t.source === 'builtin'),
      ...all.filter((t) => t.source === 'mcp').sort((a, b) => a.name.localeCompare(b.name)),
    ];
  }

  /** The names among `wanted` that exist, in the order given, without repeats. */
  available(wanted: readonly string[]): string[] {
    return [...new Set(wanted)].filter((name) => this.tools.has(name));
  }

  declarations(names: readonly string[]): ToolDeclaration[] {
    return this.available(names).map((name) => {
      const { tool } = this.tools.get(name) as Registered;
      return { name: tool.name, description: tool.description, parameters: tool.parameters };
    });
  }

  /** Characters the declarations take in the prompt (they count toward its budget). */
  declarationChars(names: readonly string[]): number {
    return JSON.stringify(this.declarations(names)).length;
  }

  /** The tool for a call the model asked for, with its arguments checked; a ToolFailure otherwise. */
  resolve(name: string, offered: readonly string[], args: unknown): { tool: Tool; args: Record<string, unknown> } {
    const registered = offered.includes(name) ? this.tools.get(name) : undefined;
    if (!registered) {
      throw new ToolFailure(
        'unknown_tool',
        `there is no tool named "${name.slice(0, 64)}"; the tools are: ${offered.join(', ') || 'none'}`,
      );
    }
    if (!registered.validate(args)) {
      const problems = (registered.validate.errors ?? [])
        .slice(0, 5)
        .map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`)
        .join('; ');
      throw new ToolFailure('invalid_arguments', `the arguments do not match the tool's schema: ${problems}`);
    }
    return { tool: registered.tool, args: args as Record<string, unknown> };
  }
}
