import { Body, Controller, Get, HttpCode, Param, Post, Req, Res, UseInterceptors } from '@nestjs/common';
import type { Request, Response } from 'express';
import type { Message, PromptManifest, SendMessageRequest, TurnResult } from '@parley/api-types';
import { ContractOperation } from '../contract/contract-operation.decorator.js';
import { CurrentUser, TokenVersionCheckedByHandler, type AuthenticatedUser } from '../auth/current-user.decorator.js';
import { problemContextOf } from '../errors/problem.filter.js';
import { TurnRateLimitInterceptor } from '../rate-limit/turn-rate-limit.interceptor.js';
import { ManifestService } from './manifest.service.js';
import { RepliesService } from './replies.service.js';
import { SseStream, type Position } from './sse-stream.js';
import { TurnPipeline } from './turn-pipeline.js';
import type { TurnRequest } from './turn-command.js';
import { TurnRequestOf } from './turn-request.decorator.js';

// Each generating operation has a JSON form and a streaming form with one success status and
// one media type each (the contract's rule); both run the same pipeline. The rate limit sits at
// the edge, so its headers are on every answer, 429 included. The token's version is checked by
// the pipeline, in prepare's statement (or before an idempotency key is claimed), not by the guard.
@Controller('api/v1/chats/:chatId/messages')
export class GenerationController {
  constructor(
    private readonly turns: TurnPipeline,
    private readonly manifests: ManifestService,
    private readonly replies: RepliesService,
  ) {}

  @Post()
  @HttpCode(201)
  @ContractOperation('sendMessage')
  @TokenVersionCheckedByHandler()
  @UseInterceptors(TurnRateLimitInterceptor)
  send(
    @TurnRequestOf() turn: TurnRequest,
    @Param('chatId') chatId: string,
    @Body() body: SendMessageRequest,
    @Res({ passthrough: true }) response: Response,
  ): Promise<TurnResult> {
    return this.turns.json(turn, { kind: 'send', chatId, content: body.content }, response);
  }

  @Post('stream')
  @ContractOperation('sendMessageStream')
  @TokenVersionCheckedByHandler()
  @UseInterceptors(TurnRateLimitInterceptor)
  sendStream(
    @TurnRequestOf() turn: TurnRequest,
    @Param('chatId') chatId: string,
    @Body() body: SendMessageRequest,
    @Res() response: Response,
  ): Promise<void> {
    return this.turns.stream(turn, { kind: 'send', chatId, content: body.content }, streamTo(response));
  }

  @Post(':messageId/regenerate')
  @HttpCode(201)
  @ContractOperation('regenerateMessage')
  @TokenVersionCheckedByHandler()
  @UseInterceptors(TurnRateLimitInterceptor)
  regenerate(
    @TurnRequestOf() turn: TurnRequest,
    @Param('chatId') chatId: string,
    @Param('messageId') messageId: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<TurnResult> {
    return this.turns.json(turn, { kind: 'regenerate', chatId, messageId }, response);
  }

  @Post(':messageId/regenerate/stream')
  @ContractOperation('regenerateMessageStream')
  @TokenVersionCheckedByHandler()
  @UseInterceptors(TurnRateLimitInterceptor)
  regenerateStream(
    @TurnRequestOf() turn: TurnRequest,
    @Param('chatId') chatId: string,
    @Param('messageId') messageId: string,
    @Res() response: Response,
  ): Promise<void> {
    return this.turns.stream(turn, { kind: 'regenerate', chatId, messageId }, streamTo(response));
  }

  @Post(':messageId/edit')
  @HttpCode(201)
  @ContractOperation('editMessage')
  @TokenVersionCheckedByHandler()
  @UseInterceptors(TurnRateLimitInterceptor)
  edit(
    @TurnRequestOf() turn: TurnRequest,
    @Param('chatId') chatId: string,
    @Param('messageId') messageId: string,
    @Body() body: SendMessageRequest,
    @Res({ passthrough: true }) response: Response,
  ): Promise<TurnResult> {
    return this.turns.json(turn, { kind: 'edit', chatId, messageId, content: body.content }, response);
  }

  @Post(':messageId/edit/stream')
  @ContractOperation('editMessageStream')
  @TokenVersionCheckedByHandler()
  @UseInterceptors(TurnRateLimitInterceptor)
  editStream(
    @TurnRequestOf() turn: TurnRequest,
    @Param('chatId') chatId: string,
    @Param('messageId') messageId: string,
    @Body() body: SendMessageRequest,
    @Res() response: Response,
  ): Promise<void> {
    return this.turns.stream(turn, { kind: 'edit', chatId, messageId, content: body.content }, streamTo(response));
  }

  @Post(':messageId/continue')
  @HttpCode(201)
  @ContractOperation('continueMessage')
  @TokenVersionCheckedByHandler()
  @UseInterceptors(TurnRateLimitInterceptor)
  continue(
    @TurnRequestOf() turn: TurnRequest,
    @Param('chatId') chatId: string,
    @Param('messageId') messageId: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<TurnResult> {
    return this.turns.json(turn, { kind: 'continue', chatId, messageId }, response);
  }

  @Post(':messageId/continue/stream')
  @ContractOperation('continueMessageStream')
  @TokenVersionCheckedByHandler()
  @UseInterceptors(TurnRateLimitInterceptor)
  continueStream(
    @TurnRequestOf() turn: TurnRequest,
    @Param('chatId') chatId: string,
    @Param('messageId') messageId: string,
    @Res() response: Response,
  ): Promise<void> {
    return this.turns.stream(turn, { kind: 'continue', chatId, messageId }, streamTo(response));
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
  @ContractOperation('followMessage')
  follow(
    @CurrentUser() user: AuthenticatedUser,
    @Param('chatId') chatId: string,
    @Param('messageId') messageId: string,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    const lastEventId = request.headers['last-event-id'];
    return this.replies.follow(user.id, chatId, messageId, lastEventId, streamTo(response), problemContextOf(request));
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

function streamTo(response: Response): (from: Position) => SseStream {
  return (from) => new SseStream(response, from);
}
