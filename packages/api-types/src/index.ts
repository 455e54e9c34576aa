// Hand-written entry point: the generated types plus short names for the schemas used everywhere.
// The contract is contracts/generate-ai-response.yaml; regenerate with `npm run generate`.
export type { paths, components, operations } from './generated/schema.js';

import type { components, operations } from './generated/schema.js';

export type Schemas = components['schemas'];
export type OperationId = keyof operations;

export type Locale = Schemas['Locale'];
export type MessageRole = Schemas['MessageRole'];
export type MessageStatus = Schemas['MessageStatus'];
export type BreakerState = Schemas['BreakerState'];
export type ErrorCode = Schemas['ErrorCode'];
export type Problem = Schemas['Problem'];
export type ValidationIssue = Schemas['ValidationIssue'];

export type RegisterRequest = Schemas['RegisterRequest'];
export type LoginRequest = Schemas['LoginRequest'];
export type AuthResponse = Schemas['AuthResponse'];
export type User = Schemas['User'];
export type UpdateMeRequest = Schemas['UpdateMeRequest'];
export type ChangePasswordRequest = Schemas['ChangePasswordRequest'];
export type DeleteMeRequest = Schemas['DeleteMeRequest'];
export type ResetPasswordRequest = Schemas['ResetPasswordRequest'];

export type Character = Schemas['Character'];
export type CharacterList = Schemas['CharacterList'];
export type CharacterInput = Schemas['CharacterInput'];
export type CharacterVariant = Schemas['CharacterVariant'];
export type CharacterDetail = Schemas['CharacterDetail'];
export type CharacterImport = Schemas['CharacterImport'];
export type Lorebook = Schemas['Lorebook'];
export type LorebookEntry = Schemas['LorebookEntry'];
export type LorebookFiring = Schemas['LorebookFiring'];
export type Persona = Schemas['Persona'];
export type PersonaInput = Schemas['PersonaInput'];
export type PersonaList = Schemas['PersonaList'];

export type CreateChatRequest = Schemas['CreateChatRequest'];
export type ChatImport = Schemas['ChatImport'];
export type UpdateChatRequest = Schemas['UpdateChatRequest'];
export type MessagePreview = Schemas['MessagePreview'];
export type Chat = Schemas['Chat'];
export type ChatPage = Schemas['ChatPage'];
export type SearchPage = Schemas['SearchPage'];
export type SearchHit = Schemas['SearchHit'];

export type Usage = Schemas['Usage'];
export type Message = Schemas['Message'];
export type MessagePage = Schemas['MessagePage'];
export type FinishReason = Schemas['FinishReason'];
export type Alternatives = Schemas['Alternatives'];
export type AlternativeList = Schemas['AlternativeList'];
export type ChatTreePage = Schemas['ChatTreePage'];
export type SendMessageRequest = Schemas['SendMessageRequest'];
export type TurnResult = Schemas['TurnResult'];
export type PromptManifest = Schemas['PromptManifest'];
export type ManifestAttempt = Schemas['ManifestAttempt'];

export type StreamEvent = Schemas['StreamEvent'];
export type StreamEventType = StreamEvent['type'];
/** The data of the stream event of one type. */
export type StreamEventOf<T extends StreamEventType> = Extract<StreamEvent, { type: T }>;
export type TurnStartedEvent = Schemas['TurnStartedEvent'];
export type ProviderEvent = Schemas['ProviderEvent'];
export type RetryEvent = Schemas['RetryEvent'];
export type DeltaEvent = Schemas['DeltaEvent'];
export type DoneEvent = Schemas['DoneEvent'];
export type ErrorEvent = Schemas['ErrorEvent'];
export type ToolCallEvent = Schemas['ToolCallEvent'];
export type ToolResultEvent = Schemas['ToolResultEvent'];

export type ToolCall = Schemas['ToolCall'];
export type ToolCallStatus = Schemas['ToolCallStatus'];
export type ToolError = Schemas['ToolError'];
export type ToolErrorCode = Schemas['ToolErrorCode'];
export type ToolCallPage = Schemas['ToolCallPage'];
export type MemoryEntry = Schemas['MemoryEntry'];
export type MemoryList = Schemas['MemoryList'];

export type HealthResponse = Schemas['HealthResponse'];
export type HealthIndicator = Schemas['HealthIndicator'];

// The realtime contract (contracts/realtime.asyncapi.yaml): the WebSocket's frames and events.
export type * from './generated/realtime.js';
