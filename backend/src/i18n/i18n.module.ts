import { Global, Injectable, Module, type DynamicModule } from '@nestjs/common';
import type { Locale } from '@parley/api-types';
import { repoPaths } from '../config/repo-paths.js';
import { DEFAULT_LOCALE } from './locale.js';

/** Looks up a translated message by key (`errors.<code>`, …) in en or zh. */
@Injectable()
export abstract class Translator {
  abstract translate(key: string, locale: Locale): string;
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
          // Every message is translated into a locale its caller names (resolveLocale on the request's
          // Accept-Language), never the request's ambient language: nestjs-i18n's per-request
          // middleware (a router layer, its resolvers and an async context) would go unused. Its
          // interceptor still asks a resolver for each request's language (and the module logs an
          // error at start without one): this one answers the fallback, with no lookup.
          resolvers: [{ resolve: () => DEFAULT_LOCALE }],
          disableMiddleware: true,
          skipAsyncHook: true,
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
