import { Body, Controller, Get, HttpCode, Param, Post, Req, Res, UseInterceptors } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Message, PromptManifest, SendMessageRequest } from '@parley/api-types';
import { ContractOperation } from '../contract/contract-operation.decorator.js';
import { CurrentUser, type AuthenticatedUser } from '../auth/current-user.decorator.js';
import { ChatBreakerInterceptor } from '../resilience/chat-breaker.interceptor.js';
import { RetryInterceptor } from '../resilience/retry.interceptor.js';
import { IdempotencyInterceptor } from '../idempotency/idempotency.interceptor.js';
import { GenerationService, type TurnInput } from './generation.service.js';
import { ManifestService } from './manifest.service.js';
import { RepliesService } from './replies.service.js';

// Outermost first: a replayed key never reaches the breaker; the breaker sees one outcome per
// turn, after the retries.
@Controller('api/chats/:chatId/messages')
export class GenerationController {
  constructor(
    private readonly generation: GenerationService,
    private readonly manifests: ManifestService,
    private readonly replies: RepliesService,
  ) {}

  @Post()
  @ContractOperation('sendMessage')
  @UseInterceptors(IdempotencyInterceptor, ChatBreakerInterceptor, RetryInterceptor)
  async send(
    @CurrentUser() user: AuthenticatedUser,
    @Param('chatId') chatId: string,
    @Body() body: SendMessageRequest,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    const result = await this.generation.send(turnInput(request, response, user, chatId), body.content);
    if (result) response.status(201).json(result);
  }

  @Post(':messageId/regenerate')
  @ContractOperation('regenerateMessage')
  @UseInterceptors(IdempotencyInterceptor, ChatBreakerInterceptor, RetryInterceptor)
  async regenerate(
    @CurrentUser() user: AuthenticatedUser,
    @Param('chatId') chatId: string,
    @Param('messageId') messageId: string,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    const result = await this.generation.regenerate(turnInput(request, response, user, chatId), messageId);
    if (result) response.status(201).json(result);
  }

  @Post(':messageId/cancel')
  @HttpCode(200)
  @ContractOperation('cancelMessage')
  cancel(
    @CurrentUser() user: AuthenticatedUser,
    @Param('chatId') chatId: string,
    @Param('messageId') messageId: string,
  ): Promise<Message> {
    return this.replies.cancel(user.id, chatId, messageId);
  }

  @Get(':messageId/stream')
  @ContractOperation('streamMessage')
  follow(
    @CurrentUser() user: AuthenticatedUser,
    @Param('chatId') chatId: string,
    @Param('messageId') messageId: string,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    return this.replies.follow(user.id, chatId, messageId, request, response);
  }

  @Get(':messageId/manifest')
  @ContractOperation('getMessageManifest')
  manifest(
    @CurrentUser() user: AuthenticatedUser,
    @Param('chatId') chatId: string,
    @Param('messageId') messageId: string,
  ): Promise<PromptManifest> {
    return this.manifests.get(user.id, chatId, messageId);
  }
}

function turnInput(request: Request, response: Response, user: AuthenticatedUser, chatId: string): TurnInput {
  const stream = (request.headers.accept ?? '').includes('text/event-stream');
  return { request, response, userId: user.id, chatId, stream };
}
