import { UserEntity } from '../users/user.entity.js';
import { CharacterEntity } from '../characters/character.entity.js';
import { ChatEntity } from '../chats/chat.entity.js';
import { MessageEntity } from '../chats/message.entity.js';
import { ToolCallEntity } from '../chats/tool-call.entity.js';
import { TokenLedgerEntity } from '../billing/token-ledger.entity.js';
import { IdempotencyRecordEntity } from '../idempotency/idempotency-record.entity.js';
import { RealtimeEventEntity, RealtimeSequenceEntity } from '../realtime/realtime-event.entity.js';
import { RateLimitWindowEntity } from '../shared-state/rate-limit-window.entity.js';
import { ChatBreakerStateEntity } from '../shared-state/chat-breaker-state.entity.js';
import { SharedSlotEntity } from '../shared-state/shared-slot.entity.js';
import { PersonaEntity } from '../personas/persona.entity.js';
import { AvatarEntity } from '../avatars/avatar.entity.js';
import { CachedReplyEntity } from '../resilience/reply-cache/cached-reply.entity.js';
import { ChatMemoryEntity } from '../tools/chat-memory.entity.js';
import { migrations } from './migrations/index.js';

// Explicit lists rather than globs: the same code runs from src under jest and from dist.
export const entities = [
  UserEntity,
  CharacterEntity,
  ChatEntity,
  MessageEntity,
  ToolCallEntity,
  TokenLedgerEntity,
  IdempotencyRecordEntity,
  RealtimeEventEntity,
  RealtimeSequenceEntity,
  RateLimitWindowEntity,
  ChatBreakerStateEntity,
  SharedSlotEntity,
  PersonaEntity,
  AvatarEntity,
  CachedReplyEntity,
  ChatMemoryEntity,
];

export { migrations };
