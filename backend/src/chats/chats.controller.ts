import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Res } from '@nestjs/common';
import type { Response } from 'express';
import type {
  Chat,
  ChatImport,
  ChatPage,
  ChatTreePage,
  CreateChatRequest,
  Locale,
  Lorebook,
  MessagePage,
  UpdateChatRequest,
  operations,
} from '@parley/api-types';
import { ContractOperation, ValidQuery } from '../contract/contract-operation.decorator.js';
import {
  CurrentSession,
  CurrentUser,
  TokenVersionCheckedByHandler,
  type AuthenticatedUser,
  type Session,
} from '../auth/current-user.decorator.js';
import { RequestLocale } from '../i18n/request-locale.decorator.js';
import { ChatsService } from './chats.service.js';

type ListChatsQuery = Required<Pick<NonNullable<operations['listChats']['parameters']['query']>, 'limit'>> &
  NonNullable<operations['listChats']['parameters']['query']>;
type ChatTreeQuery = Required<Pick<NonNullable<operations['getChatTree']['parameters']['query']>, 'limit'>> &
  NonNullable<operations['getChatTree']['parameters']['query']>;
type ListMessagesQuery = Required<Pick<NonNullable<operations['listMessages']['parameters']['query']>, 'limit'>> &
  NonNullable<operations['listMessages']['parameters']['query']>;

@Controller('api/v1/chats')
export class ChatsController {
  constructor(private readonly chats: ChatsService) {}

  @Get()
  @ContractOperation('listChats')
  list(@CurrentUser() user: AuthenticatedUser, @ValidQuery() query: ListChatsQuery): Promise<ChatPage> {
    return this.chats.list(user.id, query);
  }

  @Post()
  @ContractOperation('createChat')
  async create(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: CreateChatRequest,
    @RequestLocale() locale: Locale,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Chat> {
    const chat = await this.chats.create(user.id, body, locale);
    response.location(`/api/v1/chats/${chat.id}`);
    return chat;
  }

  @Post('import')
  @ContractOperation('importChat')
  async import(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: ChatImport,
    @RequestLocale() locale: Locale,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Chat> {
    const chat = await this.chats.importChat(user.id, body, locale);
    response.location(`/api/v1/chats/${chat.id}`);
    return chat;
  }

  @Get(':chatId')
  @ContractOperation('getChat')
  get(@CurrentUser() user: AuthenticatedUser, @Param('chatId') chatId: string): Promise<Chat> {
    return this.chats.get(user.id, chatId);
  }

  @Patch(':chatId')
  @ContractOperation('updateChat')
  rename(
    @CurrentUser() user: AuthenticatedUser,
    @Param('chatId') chatId: string,
    @Body() body: UpdateChatRequest,
  ): Promise<Chat> {
    return this.chats.rename(user.id, chatId, body);
  }

  @Delete(':chatId')
  @HttpCode(204)
  @ContractOperation('deleteChat')
  remove(@CurrentUser() user: AuthenticatedUser, @Param('chatId') chatId: string): Promise<void> {
    return this.chats.remove(user.id, chatId);
  }

  // The hot read path: the token's version is checked in the page's own statement.
  @Get(':chatId/messages')
  @ContractOperation('listMessages')
  @TokenVersionCheckedByHandler()
  messages(
    @CurrentSession() session: Session,
    @Param('chatId') chatId: string,
    @ValidQuery() query: ListMessagesQuery,
  ): Promise<MessagePage> {
    return this.chats.messagePage(session, chatId, query);
  }

  @Get(':chatId/tree')
  @ContractOperation('getChatTree')
  tree(
    @CurrentUser() user: AuthenticatedUser,
    @Param('chatId') chatId: string,
    @ValidQuery() query: ChatTreeQuery,
  ): Promise<ChatTreePage> {
    return this.chats.treePage(user.id, chatId, query);
  }

  @Get(':chatId/lorebook')
  @ContractOperation('getChatLorebook')
  lorebook(@CurrentUser() user: AuthenticatedUser, @Param('chatId') chatId: string): Promise<Lorebook> {
    return this.chats.getLorebook(user.id, chatId);
  }

  @Put(':chatId/lorebook')
  @ContractOperation('setChatLorebook')
  setLorebook(
    @CurrentUser() user: AuthenticatedUser,
    @Param('chatId') chatId: string,
    @Body() body: Lorebook,
    @RequestLocale() locale: Locale,
  ): Promise<Lorebook> {
    return this.chats.setLorebook(user.id, chatId, body, locale);
  }
}
