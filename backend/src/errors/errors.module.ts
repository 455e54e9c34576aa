import { Global, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ProblemFactory, ProblemFilter } from './problem.filter.js';

@Global()
@Module({
  providers: [ProblemFactory, { provide: APP_FILTER, useClass: ProblemFilter }],
  exports: [ProblemFactory],
})
export class ErrorsModule {}
