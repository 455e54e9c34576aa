import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../config/app-config.js';
import { dataSourceOptions } from './data-source.js';

@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const { url } = config.database;
        if (!url) throw new Error('the database URL is resolved before the application module starts');
        return { ...dataSourceOptions(url, config.database), retryAttempts: 0 };
      },
    }),
  ],
})
export class DatabaseModule {}
