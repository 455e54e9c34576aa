import { Controller, Delete, Get, HttpCode, Param } from '@nestjs/common';
import type { MemoryList, ToolCallPage, operations } from '@parley/api-types';
import { ContractOperation, ValidQuery } from '../contract/contract-operation.decorator.js';
import { CurrentUser, type AuthenticatedUser } from '../auth/current-user.decorator.js';
import { ChatMemoryService } from './chat-memory.service.js';
import { ToolCallsService } from './tool-calls.service.js';

type ListToolCallsQuery = Required<Pick<NonNullable<operations['listToolCalls']['parameters']['query']>, 'limit'>> &
  NonNullable<operations['listToolCalls']['parameters']['query']>;

@Controller('api/v1/chats/:chatId')
export class ToolsController {
  constructor(
    private readonly calls: ToolCallsService,
    private readonly memory: ChatMemoryService,
  ) {}

  @Get('tool-calls')
  @ContractOperation('listToolCalls')
  listToolCalls(
    @CurrentUser() user: AuthenticatedUser,
    @Param('chatId') chatId: string,
    @ValidQuery() query: ListToolCallsQuery,
  ): Promise<ToolCallPage> {
    return this.calls.list(user.id, chatId, query);
  }

  @Get('memory')
  @ContractOperation('listChatMemory')
  listMemory(@CurrentUser() user: AuthenticatedUser, @Param('chatId') chatId: string): Promise<MemoryList> {
    return this.memory.list(user.id, chatId);
  }

  @Delete('memory/:entryId')
  @HttpCode(204)
  @ContractOperation('deleteChatMemoryEntry')
  deleteMemoryEntry(
    @CurrentUser() user: AuthenticatedUser,
    @Param('chatId') chatId: string,
    @Param('entryId') entryId: string,
  ): Promise<void> {
    return this.memory.remove(user.id, chatId, entryId);
  }
}
