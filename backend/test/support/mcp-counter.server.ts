import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

// A real MCP server (the official SDK, Streamable HTTP, stateless) with a side effect it counts
// itself: `increment` adds to a counter (`slow_increment` too, then answers a minute later), so a test reads how many times a call really ran, and
// the idempotency key each call carried in `_meta`.
export class McpCounterServer {
  count = 0;
  readonly keys: unknown[] = [];
  private server?: Server;

  async start(port = 0): Promise<this> {
    const server = createServer((req, res) => {
      // Stateless: a server and a transport per request, as the SDK's stateless example does.
      const mcp = this.build();
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => {
        void transport.close();
        void mcp.close();
      });
      void mcp
        .connect(transport)
        .then(() => transport.handleRequest(req, res))
        .catch(() => res.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    return this;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('McpCounterServer is not started');
    return `http://127.0.0.1:${address.port}/mcp`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private build(): McpServer {
    const mcp = new McpServer({ name: 'counter', version: '1.0.0' });
    mcp.registerTool(
      'increment',
      {
        description: 'Adds to the ship counter and returns its new value.',
        inputSchema: { by: z.number().int().min(1).max(10) },
        annotations: { idempotentHint: false },
      },
      ({ by }, extra) => {
        this.count += by;
        this.keys.push(extra._meta?.idempotencyKey);
        return {
          content: [{ type: 'text', text: `counter is ${this.count}` }],
          structuredContent: { count: this.count },
        };
      },
    );
    mcp.registerTool(
      'slow_increment',
      {
        description: 'Adds to the counter at once, then takes a minute to answer.',
        inputSchema: { by: z.number().int().min(1).max(10) },
        annotations: { idempotentHint: false },
      },
      async ({ by }, extra) => {
        this.count += by;
        this.keys.push(extra._meta?.idempotencyKey);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 60_000);
          extra.signal.addEventListener('abort', () => {
            clearTimeout(timer);
            resolve();
          });
        });
        return { content: [{ type: 'text', text: `counter is ${this.count}` }] };
      },
    );
    return mcp;
  }
}
