import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';
import type { Locale, ValidationIssue } from '@parley/api-types';
import { AppConfig } from '../../config/app-config.js';
import { AppError } from '../../errors/app-error.js';
import { ChatEntity } from '../../chats/chat.entity.js';
import { MessageEntity } from '../../chats/message.entity.js';
import type { CharacterEntity } from '../../characters/character.entity.js';
import { ModerationService } from '../../moderation/moderation.service.js';
import { DEFAULT_USER_NAME, expandMacros } from '../../characters/macros.js';
import { scanLorebooks, type LorebookSource } from '../../characters/lorebook.js';
import { greetingOf } from '../../chats/chats.service.js';
import { ShutdownService } from '../../lifecycle/shutdown.service.js';
import { DebugFaults, type DebugFault } from '../debug-faults.js';
import { promptPlanOf, TurnStore } from '../turn.store.js';
import type { PromptPlan } from '../turn.js';
import type { TurnCommand, TurnRequest } from '../turn-command.js';
import { finishReasonOf } from '../../chats/chat.mapper.js';
import { ToolLoop } from '../../tools/tool-loop.js';
import { toolsOf } from '../../tools/character-tools.js';

// Sent after the partial reply (as the user's turn: providers expect turns to alternate).
const CONTINUE_INSTRUCTION =
  'Continue your last reply exactly where it stopped, without repeating any of it and without any preamble.';

/** A turn ready to be stored: the chat, the prompt and what to reserve for it. */
export type PreparedTurn = {
  userId: string;
  chat: ChatEntity;
  prompt: PromptPlan;
  reserve: number;
} & (
  | { kind: 'send'; content: string }
  // Another reply: the stored user message it answers, and the active leaf it was checked against.
  | { kind: 'regenerate'; answering: MessageEntity; leaf: string }
  // A new version of a user message on the active path, beside it.
  | { kind: 'edit'; edited: MessageEntity; content: string; leaf: string }
  // More of the active leaf, a reply cut short: its next segment.
  | { kind: 'continue'; reply: MessageEntity; answering: MessageEntity }
);

/**
 * Stage 1, prepare: everything that can refuse a turn before anything is stored — this instance
 * draining, the chat's owner, the message's content (moderation), a reply that cannot be
 * regenerated — and the prompt rebuilt from the database, with the tokens to reserve for it.
 */
@Injectable()
export class PrepareStage {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly store: TurnStore,
    private readonly moderation: ModerationService,
    private readonly shutdown: ShutdownService,
    private readonly faults: DebugFaults,
    private readonly tools: ToolLoop,
  ) {}

  async prepare(request: TurnRequest, command: TurnCommand, fault: DebugFault | undefined): Promise<PreparedTurn> {
    this.shutdown.assertAccepting();
    this.faults.beforeTurn(fault);
    const window = this.config.generation.historyWindow;
    // A send's prompt is the path up from the active leaf, read with the chat in one statement
    // (with the token's version check); the other actions walk up from the message they name.
    const { chat, character, path } = await this.store.context(
      request,
      command.chatId,
      command.kind === 'send' ? window * 2 : 0,
    );
    const persona = this.persona(chat, character);
    const base = { userId: request.userId, chat };
    const finish = (prompt: PromptPlan): PromptPlan =>
      this.withTools(this.withLorebooks(prompt, chat, character), character);
    const plan = async (from: string | null, next?: string): Promise<PromptPlan> =>
      finish(await this.store.promptPlan(chat.id, { from, window, next }, persona));
    switch (command.kind) {
      case 'send': {
        // Before anything is stored or sent anywhere.
        this.assertAllowedInput(command.content, chat.locale, { location: 'body', pointer: '/content' });
        // The path as it ended when the chat was read; a send racing this one may end up between (specs/009).
        const prompt = finish(promptPlanOf(path, { window, next: command.content }, persona));
        return { ...base, kind: 'send', content: command.content, prompt, reserve: this.estimate(prompt) };
      }
      case 'regenerate': {
        const { answering, leaf } = await this.regenerable(chat, command.messageId);
        // The policy may have changed since the message was sent: it is checked again.
        this.assertAllowedInput(answering.content, chat.locale, { location: 'path', pointer: '/messageId' });
        const prompt = await plan(answering.id);
        return { ...base, kind: 'regenerate', answering, leaf, prompt, reserve: this.estimate(prompt) };
      }
      case 'edit': {
        const { edited, leaf } = await this.editable(chat, command.messageId);
        this.assertAllowedInput(command.content, chat.locale, { location: 'body', pointer: '/content' });
        const prompt = await plan(edited.parentId, command.content);
        return {
          ...base,
          kind: 'edit',
          edited,
          content: command.content,
          leaf,
          prompt,
          reserve: this.estimate(prompt),
        };
      }
      case 'continue': {
        const { reply, answering } = await this.continuable(chat, command.messageId);
        const base_ = await plan(answering.id);
        // The reply so far as the model's own last turn, then the ask to go on from there.
        const prompt: PromptPlan = {
          ...base_,
          messages: [
            ...base_.messages,
            { role: 'assistant', content: reply.content },
            { role: 'user', content: CONTINUE_INSTRUCTION },
          ],
          includedMessageIds: [...base_.includedMessageIds, reply.id],
        };
        return { ...base, kind: 'continue', reply, answering, prompt, reserve: this.estimate(prompt) };
      }
    }
  }

  /** The active leaf, when it is a reply cut at the length limit or stopped with text. */
  private async continuable(
    chat: ChatEntity,
    messageId: string,
  ): Promise<{ reply: MessageEntity; answering: MessageEntity }> {
    const reply = await this.target(chat, messageId);
    const reason = finishReasonOf(reply);
    const cut = reason === 'max_tokens' || (reason === 'stopped' && reply.content.length > 0);
    if (chat.activeLeafId !== reply.id || !cut || reply.parentId === null)
      throw new AppError('message_not_continuable');
    const answering = await this.dataSource
      .getRepository(MessageEntity)
      .findOneBy({ id: reply.parentId, chatId: chat.id });
    if (answering?.role === 'user') return { reply, answering };
    if (!answering) throw new AppError('message_not_found');
    throw new AppError('message_not_continuable');
  }

  /**
   * The message an action names, in this chat (404 otherwise), once no reply of the chat is
   * running (409 generation_in_progress: every action but send waits for the chat to be idle).
   */
  private async target(chat: ChatEntity, messageId: string): Promise<MessageEntity> {
    const messages = this.dataSource.getRepository(MessageEntity);
    const target = await messages.findOneBy({ id: messageId, chatId: chat.id });
    if (!target) throw new AppError('message_not_found');
    const inProgress = await messages.existsBy({ chatId: chat.id, status: In(['pending', 'streaming']) });
    if (inProgress) throw new AppError('generation_in_progress');
    return target;
  }

  /**
   * The user message to answer again: the active leaf's when the leaf is a reply to one (any
   * status), or the leaf itself when it is a user message without a reply. The leaf is checked
   * again under the chat's lock when the reply is stored.
   */
  private async regenerable(chat: ChatEntity, messageId: string): Promise<{ answering: MessageEntity; leaf: string }> {
    const target = await this.target(chat, messageId);
    const leaf = chat.activeLeafId;
    if (leaf === null || target.id !== leaf) throw new AppError('message_not_regenerable');
    if (target.role === 'user') return { answering: target, leaf };
    const answering =
      target.parentId === null
        ? null
        : await this.dataSource.getRepository(MessageEntity).findOneBy({ id: target.parentId, chatId: chat.id });
    if (answering?.role === 'user') return { answering, leaf };
    // Rows that vanished between these reads went with their chat (deleted meanwhile): 404.
    if (!(await this.dataSource.getRepository(MessageEntity).existsBy({ id: messageId, chatId: chat.id })))
      throw new AppError('message_not_found');
    throw new AppError('message_not_regenerable');
  }

  /** A user message on the active path (the leaf is checked again under the chat's lock). */
  private async editable(chat: ChatEntity, messageId: string): Promise<{ edited: MessageEntity; leaf: string }> {
    const target = await this.target(chat, messageId);
    const leaf = chat.activeLeafId;
    if (target.role !== 'user' || target.parentId === null || leaf === null) throw new AppError('message_not_editable');
    if (await this.store.onPath(chat.id, leaf, target)) return { edited: target, leaf };
    if (!(await this.dataSource.getRepository(MessageEntity).existsBy({ id: messageId, chatId: chat.id })))
      throw new AppError('message_not_found');
    throw new AppError('message_not_editable');
  }

  private assertAllowedInput(text: string, locale: Locale, where: Pick<ValidationIssue, 'location' | 'pointer'>): void {
    const verdict = this.moderation.check(text, 'input', locale);
    if (verdict.allowed) return;
    throw new AppError('content_blocked', {
      errors: [{ ...where, message: `blocked by the content policy: ${verdict.category}`, keyword: 'content_policy' }],
    });
  }

  private persona(chat: ChatEntity, character: CharacterEntity) {
    const names = { char: character.translations[chat.locale].name, user: chat.persona?.name ?? DEFAULT_USER_NAME };
    const greeting = expandMacros(greetingOf(character, chat.locale, chat.greetingIndex), names);
    return {
      text: expandMacros(systemText(character, chat), names),
      greeting,
      version: `${character.id}@${character.version}`,
    };
  }

  /** The lorebook entries the recent history fires, added to the prompt and named in the manifest. */
  private withLorebooks(prompt: PromptPlan, chat: ChatEntity, character: CharacterEntity): PromptPlan {
    const sources: LorebookSource[] = [];
    if (character.card?.character_book) sources.push({ source: 'character', book: character.card.character_book });
    if (chat.lorebook) sources.push({ source: 'chat', book: chat.lorebook });
    const post = character.card?.post_history_instructions.trim() ?? '';
    if (sources.length === 0 && post === '') return prompt;
    const scan = scanLorebooks(
      sources,
      prompt.messages.map((m) => m.content),
    );
    const names = { char: character.translations[chat.locale].name, user: chat.persona?.name ?? DEFAULT_USER_NAME };
    const parts = [prompt.systemInstruction];
    if (scan.contents.length > 0)
      parts.push(`World information:\n${scan.contents.map((c) => expandMacros(c, names)).join('\n\n')}`);
    if (post !== '') parts.push(expandMacros(post, names));
    return { ...prompt, systemInstruction: parts.join('\n\n'), lorebookEntries: scan.fired };
  }

  /** The character's tools that exist here, offered to the model and named in the manifest. */
  private withTools(prompt: PromptPlan, character: CharacterEntity): PromptPlan {
    const tools = this.tools.offeredTo(toolsOf(character), character.id);
    return tools.length === 0 ? prompt : { ...prompt, tools };
  }

  // Enough for any reply: the prompt at two characters a token (above every tokenizer's rate for
  // Latin text; CJK may exceed it, and the settlement then takes the rest, never below zero) plus
  // the longest reply allowed.
  private estimate(prompt: PromptPlan): number {
    // Tool declarations are part of the prompt (one reservation covers the whole tool loop).
    const chars =
      prompt.systemInstruction.length +
      prompt.messages.reduce((sum, m) => sum + m.content.length, 0) +
      this.tools.declarationChars(prompt.tools ?? []);
    return Math.ceil(chars / 2) + this.config.generation.maxOutputTokens;
  }
}

/**
 * The system text of a character: a built-in one's persona, or a user character's card fields
 * (system prompt, description, personality, scenario, example dialogue); then who the user is,
 * when the chat has a persona. Macros are expanded by the caller.
 */
function systemText(character: CharacterEntity, chat: ChatEntity): string {
  const card = character.card;
  const parts: string[] = [];
  if (character.ownerId === null || !card) {
    parts.push(character.translations[chat.locale].persona);
  } else {
    parts.push(
      card.system_prompt.trim() ||
        "You are {{char}}, talking with {{user}}. Stay in character and write {{char}}'s next reply only.",
    );
    if (card.description.trim()) parts.push(`About {{char}}:\n${card.description}`);
    if (card.personality.trim()) parts.push(`{{char}}'s personality: ${card.personality}`);
    if (card.scenario.trim()) parts.push(`Scenario: ${card.scenario}`);
    if (card.mes_example.trim()) parts.push(`Example dialogue:\n${card.mes_example}`);
  }
  const persona = chat.persona;
  if (persona) {
    parts.push(`The user plays {{user}}${persona.description.trim() ? `: ${persona.description}` : '.'}`);
  }
  return parts.join('\n\n');
}
