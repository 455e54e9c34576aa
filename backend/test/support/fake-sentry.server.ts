import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One item of an envelope: its header and its payload (JSON when it parses). */
export interface EnvelopeItem {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

// A Sentry-compatible ingest: `POST /api/<project>/envelope/`, bodies in the envelope format
// (newline-separated: the envelope's header, then each item's header and payload), gzip or not.
// The SDK under test talks to it through a DSN, as it would to a hosted one.
export class FakeSentryServer {
  readonly envelopes: Array<{ header: Record<string, unknown>; items: EnvelopeItem[] }> = [];
  private server: Server | undefined;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.method !== 'POST' || !/^\/api\/\d+\/envelope\/?(\?|$)/.test(req.url ?? '')) {
          res.writeHead(404).end();
          return;
        }
        const raw = Buffer.concat(chunks);
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        this.envelopes.push(parseEnvelope(body.toString('utf8')));
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  /** A DSN for project 1 on this server. */
  get dsn(): string {
    return `http://public@127.0.0.1:${(this.server!.address() as AddressInfo).port}/1`;
  }

  /** The error events received so far (items of type `event`). */
  events(): Array<Record<string, unknown>> {
    return this.envelopes.flatMap((e) => e.items.filter((i) => i.header.type === 'event').map((i) => i.payload));
  }

  async close(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

function parseEnvelope(text: string): { header: Record<string, unknown>; items: EnvelopeItem[] } {
  const lines = text.split('\n');
  const header = JSON.parse(lines[0]!) as Record<string, unknown>;
  const items: EnvelopeItem[] = [];
  for (let i = 1; i + 1 < lines.length; i += 2) {
    if (lines[i] === '') break;
    items.push({
      header: JSON.parse(lines[i]!) as Record<string, unknown>,
      payload: JSON.parse(lines[i + 1]!) as Record<string, unknown>,
    });
  }
  return { header, items };
}
