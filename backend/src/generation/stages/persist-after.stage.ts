import { Injectable, Logger } from '@nestjs/common';
import type { Problem, TurnResult } from '@parley/api-types';
import { toMessageDto } from '../../chats/chat.mapper.js';
import { ModerationService } from '../../moderation/moderation.service.js';
import { TurnStore } from '../turn.store.js';
import type { Turn } from '../turn.js';
import type { AnsweredAttempt } from './provider-loop.stage.js';
import { ToolLoop } from '../../tools/tool-loop.js';

/**
 * Stage 4, persist-after: one statement ends the reply. Complete: the text and usage stored, the
 * reservation settled into the charge (a degraded last-resort reply is released instead, never
 * charged), the chat's activity moved forward. Failed or stopped: the reply marked with its code
 * (a stopped one keeps its text) and the reservation released. Each happens at most once per
 * reply, whatever races it (a cancel from another instance, the sweep of interrupted turns).
 */
@Injectable()
export class PersistAfterStage {
  private readonly logger = new Logger(PersistAfterStage.name);

  constructor(
    private readonly store: TurnStore,
    private readonly moderation: ModerationService,
    private readonly tools: ToolLoop,
  ) {}

  async complete(turn: Turn, { provider, reply, degraded }: AnsweredAttempt): Promise<TurnResult> {
    const { message, tokenBalance } = await this.store.complete(
      turn.init.userId,
      turn.init.chatId,
      turn.messageId,
      turn.init.reserve,
      {
        content: reply.text,
        provider: provider.name,
        model: reply.model,
        promptTokens: reply.usage.promptTokens,
        completionTokens: reply.usage.completionTokens,
        degraded,
        attempts: turn.attempts,
        finishReason: reply.finishReason,
        moderation: { allowed: true, policyVersion: this.moderation.policyVersion },
      },
      manifestOf(turn, reply.usage),
      turn.init.continuation?.segment ?? 0,
    );
    const usage = {
      promptTokens: reply.usage.promptTokens,
      completionTokens: reply.usage.completionTokens,
      totalTokens: reply.usage.promptTokens + reply.usage.completionTokens,
    };
    // The reply's tool calls travel with it (only when the character has tools: no extra read otherwise).
    const offered = turn.init.prompt.tools ?? [];
    const toolCalls = offered.length > 0 ? await this.tools.callsOfTurn(turn) : [];
    return {
      userMessage: toMessageDto(turn.init.userMessage, turn.init.alternatives?.user),
      assistantMessage: {
        ...toMessageDto(message, turn.init.alternatives?.assistant),
        ...(offered.length > 0 ? { toolCalls } : {}),
      },
      usage,
      retries: turn.retries,
      provider: provider.name,
      model: reply.model,
      degraded,
      tokenBalance,
    };
  }

  /** Records how the turn ended. Never throws: when it cannot, the sweep of interrupted turns will. */
  async fail(turn: Turn, problem: Problem): Promise<void> {
    try {
      // A stopped continuation was put back as it was by the cancel itself.
      if (problem.code === 'turn_cancelled' && turn.init.continuation) return;
      if (problem.code === 'turn_cancelled') {
        await this.store.finishCancelled(turn.messageId, turn.text, manifestOf(turn, null));
      } else {
        await this.store.fail(
          turn.messageId,
          problem.code,
          manifestOf(turn, null),
          turn.attempts.length,
          turn.moderation,
        );
      }
    } catch (error) {
      this.logger.error({ event: 'turn_fail_not_stored', messageId: turn.messageId }, String(error));
    }
  }
}

/** The prompt manifest stored on the reply: what was sent, attempt by attempt; never any text. */
export function manifestOf(turn: Turn, usage: { promptTokens: number; completionTokens: number } | null) {
  const plan = turn.init.prompt;
  return {
    personaVersion: plan.personaVersion,
    includedMessageIds: plan.includedMessageIds,
    omittedMessageIds: plan.omittedMessageIds,
    ...(plan.lorebookEntries ? { lorebookEntries: plan.lorebookEntries } : {}),
    ...(plan.tools ? { toolsOffered: plan.tools } : {}),
    attempts: turn.attempts,
    usage: usage && { ...usage, totalTokens: usage.promptTokens + usage.completionTokens },
  };
}
