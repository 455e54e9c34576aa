import { Global, Logger, Module, type OnApplicationShutdown, Inject, Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { DemoGeminiServer } from './demo/demo-gemini.server.js';
import { GeminiProvider } from './gemini/gemini.provider.js';
import { OpenAiCompatibleProvider } from './openai/openai-compatible.provider.js';
import type { LlmProvider } from './provider.port.js';
import { LLM_PROVIDERS, ProviderRegistry } from './provider-registry.js';

export const DEMO_SERVER = Symbol('DEMO_SERVER');

/** Stops the in-process demo server with the application. */
@Injectable()
class DemoServerLifecycle implements OnApplicationShutdown {
  constructor(@Inject(DEMO_SERVER) private readonly server: DemoGeminiServer | null) {}

  async onApplicationShutdown(): Promise<void> {
    await this.server?.close();
  }
}

/**
 * The provider chain from configuration: Gemini when GEMINI_API_KEY is set, otherwise the demo
 * provider (a local server speaking Gemini's protocol, called through the same client), then an
 * OpenAI-compatible failover when configured, then the demo provider as a last resort when
 * FALLBACK_MODE=demo.
 */
@Global()
@Module({
  providers: [
    {
      provide: DEMO_SERVER,
      inject: [AppConfig],
      useFactory: async (config: AppConfig): Promise<DemoGeminiServer | null> => {
        const { gemini, fallback, demo } = config.providers;
        if (gemini && fallback !== 'demo') return null;
        return DemoGeminiServer.start({ host: '127.0.0.1', port: 0, pace: demo });
      },
    },
    {
      provide: LLM_PROVIDERS,
      inject: [AppConfig, DEMO_SERVER],
      useFactory: (config: AppConfig, demoServer: DemoGeminiServer | null): LlmProvider[] => {
        const { gemini, openai } = config.providers;
        const timeout = config.resilience.turnTimeoutMs;
        const demo = demoServer
          ? new GeminiProvider({
              name: 'demo',
              apiKey: 'demo',
              model: 'parley-demo',
              baseUrl: demoServer.baseUrl,
              isDemo: true,
              requestTimeoutMs: timeout,
            })
          : undefined;
        const chain: LlmProvider[] = [];
        if (gemini) chain.push(new GeminiProvider({ name: 'gemini', ...gemini, requestTimeoutMs: timeout }));
        else if (demo) chain.push(demo);
        if (openai)
          chain.push(new OpenAiCompatibleProvider({ name: 'openai-compatible', ...openai, requestTimeoutMs: timeout }));
        if (gemini && demo) chain.push(demo);
        new Logger('Providers').log({ event: 'providers', chain: chain.map((p) => p.name) });
        return chain;
      },
    },
    {
      provide: ProviderRegistry,
      inject: [LLM_PROVIDERS, AppConfig],
      useFactory: (providers: LlmProvider[], config: AppConfig) => new ProviderRegistry(providers, config),
    },
    DemoServerLifecycle,
  ],
  exports: [ProviderRegistry, DEMO_SERVER],
})
export class ProvidersModule {}
