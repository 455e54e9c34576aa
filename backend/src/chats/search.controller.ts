import { Controller, Get } from '@nestjs/common';
import type { SearchPage, operations } from '@parley/api-types';
import { ContractOperation, ValidQuery } from '../contract/contract-operation.decorator.js';
import { CurrentUser, type AuthenticatedUser } from '../auth/current-user.decorator.js';
import { SearchService } from './search.service.js';

type SearchQuery = Required<Pick<operations['searchMessages']['parameters']['query'], 'limit'>> &
  operations['searchMessages']['parameters']['query'];

@Controller('api/v1/search')
export class SearchController {
  constructor(private readonly searchService: SearchService) {}

  @Get()
  @ContractOperation('searchMessages')
  search(@CurrentUser() user: AuthenticatedUser, @ValidQuery() query: SearchQuery): Promise<SearchPage> {
    return this.searchService.search(user.id, query);
  }
}
