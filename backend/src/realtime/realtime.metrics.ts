import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram } from 'prom-client';
import { MetricsService } from '../telemetry/metrics.service.js';

/** What the realtime channel looks like from outside: sockets, events written, notices heard. */
@Injectable()
export class RealtimeMetrics {
  readonly events: Counter<'outcome'>;
  readonly batchDuration: Histogram;
  readonly notices: Counter;

  constructor(private readonly metrics: MetricsService) {
    const registers = [metrics.registry];
    this.events = new Counter({
      name: 'parley_realtime_events_total',
      help: "Users' events this instance numbered (stored) or lost when their batch failed (not_stored)",
      labelNames: ['outcome'] as const,
      registers,
    });
    this.batchDuration = new Histogram({
      name: 'parley_realtime_event_batch_seconds',
      help: 'Time to number, store and announce one batch of events',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.notices = new Counter({
      name: 'parley_realtime_notices_received_total',
      help: 'Notices this instance heard on the bus (from every instance, its own included)',
      registers,
    });
  }

  /** Gauges read when scraped: the sockets open here and whether the bus listener is connected. */
  watch(sockets: () => number, listening: () => boolean): void {
    const registers = [this.metrics.registry];
    new Gauge({
      name: 'parley_realtime_sockets',
      help: 'Realtime sockets open on this instance',
      registers,
      collect() {
        this.set(sockets());
      },
    });
    new Gauge({
      name: 'parley_realtime_bus_listening',
      help: 'Whether this instance is listening on the event bus (1) or reconnecting to it (0)',
      registers,
      collect() {
        this.set(listening() ? 1 : 0);
      },
    });
  }
}
