import express, { type NextFunction, type Request, type Response } from 'express';
import { AppError } from '../../src/errors/app-error.js';
import type { ContractService } from '../../src/contract/contract.service.js';
import { JsonBodyMiddleware } from '../../src/http/json-body.middleware.js';

type Route = [method: 'get' | 'post' | 'put', path: string, status: number];

/**
 * The body reader alone in front of an echo, for its unit specs: each route answers `status` with
 * what reached the handler (`{ bytes }` in hex for an upload, else `{ received }`, `'none'` when
 * no body was read); an `AppError` is answered with its status and `answer(error)`, anything else
 * with its own status or 500; an unknown path with 404.
 */
export function bodyReaderServer(
  contract: ContractService,
  routes: Route[],
  answer: (error: AppError) => unknown = (error) => ({ code: error.code, errors: error.details.errors ?? [] }),
): express.Express {
  const middleware = new JsonBodyMiddleware(contract);
  const server = express();
  server.use((req: Request, res: Response, next: NextFunction) => void middleware.use(req, res, next).catch(next));
  for (const [method, path, status] of routes) {
    server[method](path, (req: Request, res: Response) => {
      const body = req.body as unknown;
      res.status(status).json(Buffer.isBuffer(body) ? { bytes: body.toString('hex') } : { received: body ?? 'none' });
    });
  }
  server.use((_req: Request, res: Response) => void res.status(404).json({ code: 'not_found' }));
  server.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof AppError) return void res.status(error.status).json(answer(error));
    const status = (error as { status?: number }).status;
    res.status(typeof status === 'number' ? status : 500).json({ error: String(error) });
  });
  return server;
}
