import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { PromptManifest } from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import { ChatEntity } from '../chats/chat.entity.js';
import { MessageEntity } from '../chats/message.entity.js';
import { ToolLoop } from '../tools/tool-loop.js';

type StoredManifest = Omit<PromptManifest, 'messageId'>;

/** What was sent to the providers for a reply, attempt by attempt; only the chat's owner reads it. */
@Injectable()
export class ManifestService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly tools: ToolLoop,
  ) {}

  async get(userId: string, chatId: string, messageId: string): Promise<PromptManifest> {
    const owned = await this.dataSource.getRepository(ChatEntity).existsBy({ id: chatId, userId });
    if (!owned) throw new AppError('chat_not_found');
    const message = await this.dataSource.getRepository(MessageEntity).findOneBy({ id: messageId, chatId });
    const manifest = message?.metadata?.manifest as StoredManifest | undefined;
    // Only generated replies have one (not user messages, not the greeting).
    if (!message || !manifest) throw new AppError('message_not_found');
    // The calls as stored now (a reply being written shows those so far).
    if (!manifest.toolsOffered) return { messageId: message.id, ...manifest };
    return { messageId: message.id, ...manifest, toolCalls: await this.tools.callsOf(message.id) };
  }
}
