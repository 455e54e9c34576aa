// Parley's TypeScript SDK: the typed HTTP client, a typed reader of reply streams, and helpers
// for the turn operations. Types are generated from contracts/generate-ai-response.yaml.
export { createParleyClient, type ParleyClient, type ParleyClientOptions } from './client.js';
export { ApiError, NetworkError, StreamFormatError, retryAfterSeconds } from './errors.js';
export { readTurnEvents, type TurnEvent } from './turn-events.js';
export {
  cancelMessage,
  continueMessageStream,
  editMessageStream,
  followMessage,
  regenerateMessageStream,
  sendMessageStream,
  type CancelMessageParams,
  type ContinueMessageStreamParams,
  type EditMessageStreamParams,
  type FollowMessageParams,
  type RegenerateMessageStreamParams,
  type SendMessageStreamParams,
  type StreamOptions,
  type TurnStream,
} from './turns.js';
export {
  RealtimeChannel,
  REALTIME_CLOSE_CODES,
  REALTIME_PATH,
  realtimeUrl,
  type RealtimeChannelOptions,
  type RealtimeStatus,
} from './realtime.js';
export type { Middleware } from 'openapi-fetch';
export type {
  paths,
  Problem,
  ErrorCode,
  Message,
  MessagePage,
  TurnResult,
  StreamEvent,
  StreamEventType,
  StreamEventOf,
  TurnStartedEvent,
  ProviderEvent,
  RetryEvent,
  DeltaEvent,
  DoneEvent,
  ErrorEvent,
  RealtimeEvent,
  ServerFrame,
  ClientFrame,
} from '@parley/api-types';
