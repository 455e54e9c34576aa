import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { every } from '../lifecycle/every.js';
import { ToolCallStore } from './tool-call.store.js';

const SWEEP_EVERY_MS = 10_000;

/**
 * Tool calls left pending or running by a process that died (their reply ended interrupted) are
 * marked `interrupted`, at start and then periodically, so the list never shows them as running.
 */
@Injectable()
export class InterruptedToolCallsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(InterruptedToolCallsService.name);
  private stop: (() => void) | undefined;

  constructor(private readonly store: ToolCallStore) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.sweep().catch(() => undefined);
    this.stop = every(SWEEP_EVERY_MS, () => this.sweep().catch(() => undefined));
  }

  onApplicationShutdown(): void {
    this.stop?.();
  }

  async sweep(): Promise<number> {
    const count = await this.store.interruptOrphans();
    if (count > 0) this.logger.warn({ event: 'tool_calls_interrupted', count });
    return count;
  }
}
