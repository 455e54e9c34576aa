import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoPaths } from '../config/repo-paths.js';

// Paths that belong to the API and operations; never answered with the app's index.html.
const SERVER_PATHS = /^\/(api|health|metrics|openapi\.(json|yaml)|docs)(\/|$)/;

export const frontendIndex = join(repoPaths.frontendDist, 'index.html');

export function frontendBuilt(): boolean {
  return existsSync(frontendIndex);
}

/**
 * Answers the web app's client-side routes with its index.html. The built assets themselves are
 * served as static files ahead of Nest (see app.factory.ts).
 */
@Injectable()
export class FrontendMiddleware implements NestMiddleware {
  private readonly available = frontendBuilt();

  use(request: Request, response: Response, next: NextFunction): void {
    // Nest mounts middleware on a path, so request.path is relative; match the full path.
    const path = request.originalUrl.split('?')[0] ?? '/';
    const isPage = request.method === 'GET' || request.method === 'HEAD';
    if (!this.available || !isPage || SERVER_PATHS.test(path) || !request.accepts('html')) return next();
    response.setHeader('Cache-Control', 'no-cache');
    response.sendFile(frontendIndex);
  }
}
