import { Controller, Get, Header } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { repoPaths } from '../config/repo-paths.js';
import { Public } from '../auth/public.decorator.js';
import { ContractOperation } from './contract-operation.decorator.js';
import { ContractService } from './contract.service.js';

/** Publishes the contract the server is validated against. */
@Controller()
@Public()
export class ContractController {
  private readonly yaml = readFileSync(repoPaths.contract, 'utf8');

  constructor(private readonly contract: ContractService) {}

  @Get('openapi.json')
  @ContractOperation('getOpenApiJson')
  json(): unknown {
    return this.contract.document;
  }

  @Get('openapi.yaml')
  @ContractOperation('getOpenApiYaml')
  @Header('Content-Type', 'application/yaml; charset=utf-8')
  yamlDocument(): string {
    return this.yaml;
  }
}
