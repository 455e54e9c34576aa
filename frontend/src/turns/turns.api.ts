import type { Message } from '@parley/api-types';
import {
  cancelMessage,
  continueMessageStream,
  editMessageStream,
  followMessage,
  regenerateMessageStream,
  sendMessageStream,
  type ContinueMessageStreamParams,
  type EditMessageStreamParams,
  type FollowMessageParams,
  type RegenerateMessageStreamParams,
  type SendMessageStreamParams,
  type TurnEvent,
} from '@parley/client';
import { api } from '../api/client';

// The turn operations on the app's client. Each stream is its events; a refusal before the turn
// starts throws an ApiError, no answer or a cut stream a NetworkError.

export type TurnEvents = AsyncIterable<TurnEvent>;

/** Sends a message and streams the turn (`sendMessageStream`). */
export async function sendMessage(params: SendMessageStreamParams): Promise<TurnEvents> {
  return (await sendMessageStream(api, params)).events;
}

/** Generates a reply again, streaming the new one (`regenerateMessageStream`). */
export async function regenerateMessage(params: RegenerateMessageStreamParams): Promise<TurnEvents> {
  return (await regenerateMessageStream(api, params)).events;
}

/** Stores an edited copy of a user message and streams the reply to it (`editMessageStream`). */
export async function editMessage(params: EditMessageStreamParams): Promise<TurnEvents> {
  return (await editMessageStream(api, params)).events;
}

/** Continues a cut-off or stopped reply, streaming the text added to it (`continueMessageStream`). */
export async function continueMessage(params: ContinueMessageStreamParams): Promise<TurnEvents> {
  return (await continueMessageStream(api, params)).events;
}

/** Re-attaches to a reply (`followMessage`), after `lastEventId` when given. */
export async function followReply(params: FollowMessageParams): Promise<TurnEvents> {
  return (await followMessage(api, params)).events;
}

/** Stops a reply (`cancelMessage`); answers the reply as it now is. */
export function cancelReply(chatId: string, messageId: string): Promise<Message> {
  return cancelMessage(api, { chatId, messageId });
}
