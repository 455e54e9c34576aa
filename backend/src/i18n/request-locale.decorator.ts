import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { resolveLocale } from './locale.js';

/** The locale the caller asked for through Accept-Language (en or zh). */
export const RequestLocale = createParamDecorator((_data: unknown, context: ExecutionContext) =>
  resolveLocale(context.switchToHttp().getRequest<Request>().headers['accept-language']),
);
