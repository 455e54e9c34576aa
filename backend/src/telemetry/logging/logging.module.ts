import { Module, type DynamicModule, type LoggerService } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { DestinationStream } from 'pino';
import { Logger, LoggerModule, PinoLogger, type Params } from 'nestjs-pino';
import { AppConfig } from '../../config/app-config.js';
import { loggerOptions, pinoLevel } from './log-options.js';
import { processLogs } from './log-destination.js';

/** Where an app's logs go: JSON lines on stdout unless told otherwise. */
export interface LogOutput {
  /** Log nothing at all (the tests' default). */
  silent?: boolean;
  /** Another destination for the JSON lines, e.g. a Writable a test reads. */
  destination?: DestinationStream;
}

/**
 * JSON logs through pino: Nest's application logger (so every `new Logger(...)` goes through it).
 * The line per HTTP request, and the request id on every line logged during one, are
 * RequestLogMiddleware's.
 */
@Module({})
export class LoggingModule {
  static forRoot(output: LogOutput = {}): DynamicModule {
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRootAsync<Request, Response>({
          inject: [AppConfig],
          useFactory: (config: AppConfig) => loggerParams(config, output),
        }),
      ],
    };
  }
}

/** A JSON logger for the time before the app exists (the database starts first); for `Logger.overrideLogger`. */
export function bootstrapLogger(config: AppConfig, output: LogOutput = {}): LoggerService {
  // The same root logger the app will use: nestjs-pino builds it once, from whoever asks first.
  return new Logger(new PinoLogger(loggerParams(config, output)), {});
}

function loggerParams(config: AppConfig, output: LogOutput): Params<Request, Response> {
  const level = output.silent ? 'silent' : pinoLevel(config.logLevel);
  processLogs.direct(output.destination, level);
  // nestjs-pino's own request middlewares (pino-http's and the one binding its logger to the
  // request) are not mounted: AppModule mounts RequestLogMiddleware, which does both for less.
  return { pinoHttp: [loggerOptions(level), processLogs], forRoutes: [] };
}
