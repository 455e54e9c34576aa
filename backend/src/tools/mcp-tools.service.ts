import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { AppConfig, type McpServerConfig } from '../config/app-config.js';
import { every } from '../lifecycle/every.js';
import { ToolRegistry } from './tool-registry.js';
import { ToolFailure, type Tool, type ToolContext } from './tool.types.js';

const CONNECT_TIMEOUT_MS = 5_000;
const SEPARATOR = '__';

/** One operator-configured MCP server: its connection (made again when lost) and its tools' names here. */
class McpConnection {
  private client: Client | undefined;
  private connecting: Promise<Client> | undefined;
  names = new Set<string>();

  constructor(readonly server: McpServerConfig) {}

  async connected(): Promise<Client> {
    if (this.client) return this.client;
    this.connecting ??= this.connect().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /** Forgets a connection that failed: the next use connects again. */
  async drop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.close().catch(() => undefined);
  }

  private async connect(): Promise<Client> {
    // The SDK is loaded by the first connection, not at start: an instance without MCP servers
    // never needs it, and its modules (with the schema library they bring) stay in the heap once
    // loaded.
    const [{ Client }, { StdioClientTransport }, { StreamableHTTPClientTransport }] = await Promise.all([
      import('@modelcontextprotocol/sdk/client/index.js'),
      import('@modelcontextprotocol/sdk/client/stdio.js'),
      import('@modelcontextprotocol/sdk/client/streamableHttp.js'),
    ]);
    const client = new Client({ name: 'parley', version: '1.0.0' });
    const transport = this.server.url
      ? new StreamableHTTPClientTransport(new URL(this.server.url))
      : new StdioClientTransport({ command: this.server.command ?? '', args: this.server.args, stderr: 'ignore' });
    await client.connect(transport, { timeout: CONNECT_TIMEOUT_MS });
    client.onclose = () => {
      if (this.client === client) this.client = undefined;
    };
    this.client = client;
    return client;
  }
}

/**
 * Tools from the MCP servers the operator configured (MCP_SERVERS), through the official SDK:
 * listed at start and every MCP_REFRESH_MS, registered as `<server>__<tool>`. A server that is
 * down makes its calls fail as `tool_unavailable` (the model is told; the turn goes on), and is
 * connected again on the next call or refresh. Every call carries Parley's call id as an
 * idempotency key in `_meta`, so a server can tell a repeat from a new call.
 */
@Injectable()
export class McpToolsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(McpToolsService.name);
  private readonly connections: McpConnection[];
  private stop: (() => void) | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly registry: ToolRegistry,
  ) {
    this.connections = config.generation.tools.mcpServers.map((server) => new McpConnection(server));
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.connections.length === 0) return;
    await this.refresh();
    const every_ms = this.config.generation.tools.mcpRefreshMs;
    if (every_ms > 0) this.stop = every(every_ms, () => this.refresh());
  }

  async onApplicationShutdown(): Promise<void> {
    this.stop?.();
    await Promise.all(this.connections.map((c) => c.drop()));
  }

  /** The MCP tools a character may use (the servers configured for it or for `*`). */
  toolsFor(characterId: string): string[] {
    return this.connections
      .filter((c) => c.server.characters.includes('*') || c.server.characters.includes(characterId))
      .flatMap((c) => [...c.names]);
  }

  /** Lists every server's tools again; a server that does not answer keeps its last list. */
  async refresh(): Promise<void> {
    await Promise.all(this.connections.map((connection) => this.list(connection)));
  }

  private async list(connection: McpConnection): Promise<void> {
    try {
      const client = await connection.connected();
      const { tools } = await client.listTools(undefined, { timeout: CONNECT_TIMEOUT_MS });
      const names = new Set<string>();
      for (const tool of tools) {
        const name = `${connection.server.name}${SEPARATOR}${tool.name}`.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64);
        try {
          this.registry.register(this.toTool(connection, name, tool));
          names.add(name);
        } catch (error) {
          // One tool with a schema we cannot compile does not hide the server's others.
          this.logger.warn({ event: 'mcp_tool_refused', server: connection.server.name, tool: name }, String(error));
        }
      }
      for (const gone of connection.names) if (!names.has(gone)) this.registry.unregister(gone);
      connection.names = names;
    } catch (error) {
      await connection.drop();
      this.logger.warn({ event: 'mcp_list_failed', server: connection.server.name }, String(error));
    }
  }

  private toTool(
    connection: McpConnection,
    name: string,
    tool: {
      name: string;
      description?: string;
      inputSchema: Record<string, unknown>;
      annotations?: { idempotentHint?: boolean; readOnlyHint?: boolean };
    },
  ): Tool {
    return {
      name,
      description: (tool.description ?? tool.name).slice(0, 1000),
      parameters: tool.inputSchema,
      source: 'mcp',
      // Only what the server says is safe to repeat is treated so.
      idempotent: tool.annotations?.readOnlyHint === true || tool.annotations?.idempotentHint === true,
      run: (args, context) => this.call(connection, tool.name, args, context),
    };
  }

  private async call(
    connection: McpConnection,
    tool: string,
    args: Record<string, unknown>,
    context: ToolContext,
  ): Promise<unknown> {
    let client: Client;
    try {
      client = await connection.connected();
    } catch (error) {
      await connection.drop();
      throw new ToolFailure('tool_unavailable', `the ${connection.server.name} server cannot be reached`, {
        cause: error,
      });
    }
    let result: Awaited<ReturnType<Client['callTool']>>;
    try {
      result = await client.callTool(
        { name: tool, arguments: args, _meta: { idempotencyKey: context.callId } },
        undefined,
        { signal: context.signal },
      );
    } catch (error) {
      if (context.signal.aborted) throw error;
      await connection.drop();
      throw new ToolFailure('tool_unavailable', `the ${connection.server.name} server did not answer`, {
        cause: error,
      });
    }
    const content = Array.isArray(result.content) ? result.content : [];
    const text = content
      .map((part) =>
        part && typeof part === 'object' && 'text' in part && typeof part.text === 'string' ? part.text : '',
      )
      .join('\n');
    if (result.isError) throw new ToolFailure('tool_failed', text.slice(0, 500) || 'the tool reported an error');
    return result.structuredContent ?? { text };
  }
}
