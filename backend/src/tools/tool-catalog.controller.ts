import { Controller, Get } from '@nestjs/common';
import type { ToolList } from '@parley/api-types';
import { ContractOperation } from '../contract/contract-operation.decorator.js';
import { ToolRegistry } from './tool-registry.js';

@Controller('api/v1/tools')
export class ToolCatalogController {
  constructor(private readonly registry: ToolRegistry) {}

  @Get()
  @ContractOperation('listTools')
  listTools(): ToolList {
    return { items: this.registry.list() };
  }
}
