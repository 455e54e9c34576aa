// A real MCP server over stdio (the official SDK), started by the app as an operator's local
// server would be: one `echo` tool that answers with the text it was given.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'echo', version: '1.0.0' });
server.registerTool(
  'echo',
  {
    description: 'Says the text back.',
    inputSchema: { text: z.string().max(200) },
    annotations: { readOnlyHint: true },
  },
  ({ text }) => ({ content: [{ type: 'text', text: `echo: ${text}` }] }),
);
await server.connect(new StdioServerTransport());
