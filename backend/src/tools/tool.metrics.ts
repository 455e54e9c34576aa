import { Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { MetricsService } from '../telemetry/metrics.service.js';

/** Tool calls as operators see them: how many, how they ended, how long they took. */
@Injectable()
export class ToolMetrics {
  readonly calls: Counter<'tool' | 'outcome'>;
  readonly duration: Histogram<'tool'>;

  constructor(metrics: MetricsService) {
    const registers = [metrics.registry];
    this.calls = new Counter({
      name: 'parley_tool_calls_total',
      help: 'Tool calls by tool and outcome (complete, reused, or the error code)',
      labelNames: ['tool', 'outcome'] as const,
      registers,
    });
    this.duration = new Histogram({
      name: 'parley_tool_call_duration_seconds',
      help: 'Tool calls that ran, from start to end, by tool',
      labelNames: ['tool'] as const,
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    });
  }
}
