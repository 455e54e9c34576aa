import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { poolStats, within } from './sql.js';

/** Up when the database answers within the time limit; reports latency and pool use. */
@Injectable()
export class DatabaseHealthIndicator {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly indicators: HealthIndicatorService,
  ) {}

  async check(key: string, timeoutMs: number) {
    const indicator = this.indicators.check(key);
    const pool = { max: this.config.database.poolMax, ...poolStats(this.dataSource) };
    const started = Date.now();
    try {
      await within(this.dataSource.query('SELECT 1'), timeoutMs);
      return indicator.up({ latencyMs: Date.now() - started, pool });
    } catch (error) {
      return indicator.down({
        message: error instanceof Error && error.message === 'timeout' ? 'timeout' : 'unreachable',
        pool,
      });
    }
  }
}
