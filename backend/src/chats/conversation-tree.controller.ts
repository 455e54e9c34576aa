import { Controller, Delete, Get, Headers, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { AlternativeList, Chat } from '@parley/api-types';
import { ContractOperation } from '../contract/contract-operation.decorator.js';
import { CurrentUser, type AuthenticatedUser } from '../auth/current-user.decorator.js';
import { ConversationTreeService } from './conversation-tree.service.js';

// The actions on a chat's tree that generate nothing; edit and continue are turns (GenerationController).
@Controller('api/v1/chats/:chatId/messages/:messageId')
export class ConversationTreeController {
  constructor(private readonly tree: ConversationTreeService) {}

  @Post('select')
  @HttpCode(200)
  @ContractOperation('selectMessage')
  select(
    @CurrentUser() user: AuthenticatedUser,
    @Param('chatId') chatId: string,
    @Param('messageId') messageId: string,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
  ): Promise<Chat> {
    return this.tree.select({ userId: user.id, idempotencyKey }, chatId, messageId);
  }

  @Delete()
  @HttpCode(200)
  @ContractOperation('deleteMessage')
  remove(
    @CurrentUser() user: AuthenticatedUser,
    @Param('chatId') chatId: string,
    @Param('messageId') messageId: string,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
  ): Promise<Chat> {
    return this.tree.remove({ userId: user.id, idempotencyKey }, chatId, messageId);
  }

  @Post('fork')
  @HttpCode(201)
  @ContractOperation('forkChat')
  async fork(
    @CurrentUser() user: AuthenticatedUser,
    @Param('chatId') chatId: string,
    @Param('messageId') messageId: string,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Chat> {
    const chat = await this.tree.fork({ userId: user.id, idempotencyKey }, chatId, messageId);
    response.location(`/api/v1/chats/${chat.id}`);
    return chat;
  }

  @Get('alternatives')
  @ContractOperation('listAlternatives')
  alternatives(
    @CurrentUser() user: AuthenticatedUser,
    @Param('chatId') chatId: string,
    @Param('messageId') messageId: string,
  ): Promise<AlternativeList> {
    return this.tree.alternatives(user.id, chatId, messageId);
  }
}
