// The demo Gemini server (backend/dist) in a process of its own, as the benchmark's upstream.
// Sends `{ ready: true, port }` over IPC once it listens; stops on SIGTERM or when its parent goes.
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { DemoGeminiServer } = await import(
  pathToFileURL(join(root, 'backend', 'dist', 'providers', 'demo', 'demo-gemini.server.js')).href
);

const server = await DemoGeminiServer.start({
  host: '127.0.0.1',
  port: Number(process.env.PORT ?? 0),
  pace: { firstByteDelayMs: 0, chunkDelayMs: 0 },
});
const stop = () =>
  server.close().finally(() => {
    process.exit(0);
  });
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.once('disconnect', stop);
process.send({ ready: true, port: Number(new URL(server.baseUrl).port) });
