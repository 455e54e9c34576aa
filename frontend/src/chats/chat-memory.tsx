import { createResource, createSignal, For, Show } from 'solid-js';
import { ApiError } from '@parley/client';
import type { MemoryEntry } from '@parley/api-types';
import { api } from '../api/client';
import { ErrorBanner } from '../components/error-banner';
import { t } from '../i18n/i18n';
import { createAction } from '../state/create-action';

async function fetchMemory(chatId: string) {
  const { data, error, response } = await api.GET('/api/v1/chats/{chatId}/memory', {
    params: { path: { chatId } },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

async function deleteMemoryEntry(chatId: string, entryId: string): Promise<void> {
  const { error, response } = await api.DELETE('/api/v1/chats/{chatId}/memory/{entryId}', {
    params: { path: { chatId, entryId } },
  });
  // Already gone is what the user wanted.
  if (response.status === 404) return;
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
}

/** What the character remembered in this chat (its `remember` tool); read when opened, each entry deletable. */
export function ChatMemory(props: { chatId: string }) {
  const [open, setOpen] = createSignal(false);
  // Kept apart from the resource: reading a resource in JSX would suspend the layout.
  const [entries, setEntries] = createSignal<MemoryEntry[] | null>(null);
  const [memory, { refetch }] = createResource(
    () => (open() ? props.chatId : false),
    async (chatId) => {
      const list = await fetchMemory(chatId);
      setEntries(list.items);
      return list;
    },
  );
  const [removal, remove] = createAction(async (entryId: string) => {
    await deleteMemoryEntry(props.chatId, entryId);
    await refetch();
  });
  return (
    <details class="chat-memory card" onToggle={(event) => setOpen(event.currentTarget.open)}>
      <summary>{t('memory.title')}</summary>
      <Show when={memory.error}>{(error) => <ErrorBanner error={error()} />}</Show>
      <Show when={removal.error}>{(error) => <ErrorBanner error={error()} />}</Show>
      <Show when={entries()}>
        {(list) => (
          <Show when={list().length > 0} fallback={<p class="muted">{t('memory.empty')}</p>}>
            <ul class="memory-entries">
              <For each={list()}>
                {(entry) => (
                  <li class="memory-entry">
                    <span class="memory-content">{entry.content}</span>
                    <button
                      type="button"
                      class="small"
                      aria-label={t('memory.forgetLabel', { content: entry.content.slice(0, 40) })}
                      onClick={() => remove(entry.id)}
                    >
                      {t('memory.forget')}
                    </button>
                  </li>
                )}
              </For>
            </ul>
          </Show>
        )}
      </Show>
    </details>
  );
}
