import { Global, Injectable, Module, type DynamicModule, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { Locale } from '@parley/api-types';
import { repoPaths } from '../config/repo-paths.js';
import { DEFAULT_LOCALE, resolveLocale } from './locale.js';

/** Looks up a translated message by key (`errors.<code>`, …) in en or zh. */
@Injectable()
export abstract class Translator {
  abstract translate(key: string, locale: Locale): string;
}

@Injectable()
export class AcceptLanguageLocaleResolver {
  resolve(context: ExecutionContext): string {
    return resolveLocale(context.switchToHttp().getRequest<Request>().headers['accept-language']);
  }
}

@Global()
@Module({})
export class I18nModule {
  // nestjs-i18n is CommonJS and requires @nestjs/common (ESM-only since Nest 12); importing it
  // lazily, once Nest is loaded, keeps every ESM loader (Node's and the test runner's) happy.
  static async forRoot(): Promise<DynamicModule> {
    const { I18nModule: NestI18nModule, I18nService } = await import('nestjs-i18n');
    return {
      module: I18nModule,
      imports: [
        NestI18nModule.forRoot({
          fallbackLanguage: DEFAULT_LOCALE,
          loaderOptions: { path: repoPaths.i18n, watch: false },
          resolvers: [AcceptLanguageLocaleResolver],
          logging: false,
        }),
      ],
      providers: [
        {
          provide: Translator,
          inject: [I18nService],
          useFactory: (i18n: { translate(key: string, options: { lang: string }): unknown }): Translator => ({
            translate: (key, locale) => String(i18n.translate(key, { lang: locale })),
          }),
        },
      ],
      exports: [Translator],
    };
  }
}
