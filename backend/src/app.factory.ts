import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import helmet from 'helmet';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import type { AppConfig } from './config/app-config.js';
import { AppModule } from './app.module.js';
import { ContractService } from './contract/contract.service.js';
import { repoPaths } from './config/repo-paths.js';
import { frontendBuilt } from './web/frontend.middleware.js';
import { staticAssets } from './web/static-assets.js';
import { WsAdapter } from '@nestjs/platform-ws';
import type { Server } from 'node:http';
import { applyServerTimeouts } from './http/server-timeouts.js';

export interface CreateAppOptions {
  /** No log output at all (what tests use unless they read the logs). */
  logger?: false;
  /** Where the JSON log lines go instead of stdout, e.g. a Writable a test reads. */
  logDestination?: DestinationStream;
}

/** Builds the application (shared by server.ts and the tests, so both run the same wiring). */
export async function createApp(config: AppConfig, options: CreateAppOptions = {}): Promise<NestExpressApplication> {
  const logOutput = { silent: options.logger === false, destination: options.logDestination };
  const app = await NestFactory.create<NestExpressApplication>(await AppModule.forRoot(config, logOutput), {
    // Bodies are parsed by JsonBodyMiddleware with our limits and error codes.
    bodyParser: false,
    // Errors during start reject (server.ts reports them and exits) instead of exiting in place.
    abortOnError: false,
    // Nest's own start-up lines wait until the pino logger exists, then go through it.
    bufferLogs: true,
    ...(options.logger === false ? { logger: false } : {}),
  });
  app.useLogger(app.get(PinoNestLogger));
  applyServerTimeouts(app.getHttpServer() as Server, config.server);
  // Standard WebSockets (`ws`). The realtime gateway reads its frames itself; the adapter's own
  // dispatch (by an `event` field) is given nothing to do.
  app.useWebSocketAdapter(new WsAdapter(app, { messageParser: () => undefined }));
  app.disable('x-powered-by');
  // The contract declares no validators and no 304s: responses are never conditional.
  app.set('etag', false);
  app.use(securityHeaders());
  if (config.server.serveFrontend) {
    if (frontendBuilt()) {
      app.use(staticAssets(repoPaths.frontendDist));
    } else {
      Logger.warn(`no built frontend at ${repoPaths.frontendDist}; serving the API only`, 'Frontend');
    }
  }
  app.set('query parser', 'simple');
  // Swagger UI is fed the contract itself; its raw JSON/YAML routes are ours (/openapi.*).
  const document = app.get(ContractService).document as unknown as OpenAPIObject;
  SwaggerModule.setup('docs', app, document, { raw: false, customSiteTitle: 'Parley API' });
  return app;
}

// Security headers on every response (nosniff, referrer policy, frame and opener rules) and a
// content security policy for the web app: its own scripts only. Swagger UI (/docs) needs
// inline styles and data: images, which the policy allows; nothing is upgraded to https, since
// the app also runs on plain http on a developer's machine.
function securityHeaders() {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'upgrade-insecure-requests': null,
        'script-src': ["'self'"],
        'style-src': ["'self'", "'unsafe-inline'"],
        'img-src': ["'self'", 'data:'],
        'connect-src': ["'self'"],
      },
    },
    // Same-origin by design; the API is not meant to be embedded in other sites' pages.
    crossOriginResourcePolicy: { policy: 'same-origin' },
    strictTransportSecurity: false,
  });
}
