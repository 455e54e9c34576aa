import type { ChatMemoryService } from '../chat-memory.service.js';
import { MEMORY_MAX_CHARS } from '../chat-memory.service.js';
import type { Tool } from '../tool.types.js';

/** `remember` and `recall`: the character's notes in this chat, which the user can see and delete. */
export function memoryTools(memory: ChatMemoryService): Tool[] {
  return [
    {
      name: 'remember',
      description:
        'Write down one short fact worth remembering later in this conversation (a name, a promise, a preference). The user can see and delete what you remember.',
      parameters: {
        type: 'object',
        properties: { content: { type: 'string', minLength: 1, maxLength: MEMORY_MAX_CHARS } },
        required: ['content'],
        additionalProperties: false,
      },
      // A write: after a crash mid-call it is not run again blindly (a re-run of the same call
      // would write nothing more anyway: one entry per call).
      idempotent: false,
      run: (args, context) => memory.remember(context, (args.content as string).trim()),
    },
    {
      name: 'recall',
      description:
        'Read back what you remembered in this conversation: the entries containing `query`, or the latest ones.',
      parameters: {
        type: 'object',
        properties: { query: { type: 'string', maxLength: 200 } },
        additionalProperties: false,
      },
      idempotent: true,
      run: (args, context) => memory.recall(context.chatId, typeof args.query === 'string' ? args.query : undefined),
    },
  ];
}
