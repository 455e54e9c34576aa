import { createResource, createUniqueId, For, Show } from 'solid-js';
import { createStore } from 'solid-js/store';
import { ApiError } from '@parley/client';
import type { LorebookEntry } from '@parley/api-types';
import { api } from '../api/client';
import { ErrorBanner } from '../components/error-banner';
import { t } from '../i18n/i18n';
import { createAction } from '../state/create-action';

async function fetchChatLorebook(chatId: string) {
  const { data, error, response } = await api.GET('/api/v1/chats/{chatId}/lorebook', {
    params: { path: { chatId } },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

async function saveChatLorebook(chatId: string, entries: LorebookEntry[]) {
  const { data, error, response } = await api.PUT('/api/v1/chats/{chatId}/lorebook', {
    params: { path: { chatId } },
    body: { entries },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

const keysOf = (text: string) =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/** The lorebook attached to one chat: entries that enter the prompt when their keywords come up. */
export function ChatLorebook(props: { chatId: string }) {
  const [entries, setEntries] = createStore<{ list: LorebookEntry[] }>({ list: [] });
  const [loaded] = createResource(
    () => props.chatId,
    async (chatId) => {
      const book = await fetchChatLorebook(chatId);
      setEntries('list', book.entries);
      return book;
    },
  );
  const [save, runSave] = createAction(async (list: LorebookEntry[]) => {
    const book = await saveChatLorebook(props.chatId, list);
    setEntries('list', book.entries);
    return book;
  });
  return (
    <details class="chat-lorebook card">
      <summary>{t('lorebook.chatTitle')}</summary>
      <Show when={loaded.error}>{(error) => <ErrorBanner error={error()} />}</Show>
      <div class="stack">
        <For each={entries.list}>
          {(entry, index) => {
            const keysId = createUniqueId();
            const contentId = createUniqueId();
            return (
              <div class="lore-entry stack">
                <label for={keysId}>{t('editor.loreKeys')}</label>
                <input
                  id={keysId}
                  value={entry.keys.join(', ')}
                  onInput={(e) => setEntries('list', index(), 'keys', keysOf(e.currentTarget.value))}
                />
                <label for={contentId}>{t('editor.loreContent')}</label>
                <textarea
                  id={contentId}
                  rows={2}
                  value={entry.content}
                  onInput={(e) => setEntries('list', index(), 'content', e.currentTarget.value)}
                />
                <button
                  type="button"
                  class="small"
                  onClick={() => setEntries('list', (list) => list.filter((_, i) => i !== index()))}
                >
                  {t('editor.loreRemove')}
                </button>
              </div>
            );
          }}
        </For>
        <div class="editor-actions">
          <button
            type="button"
            class="small"
            onClick={() => setEntries('list', (list) => [...list, { keys: [], content: '' }])}
          >
            {t('editor.loreAdd')}
          </button>
          <button
            type="button"
            class="small primary"
            disabled={save.loading}
            onClick={() => runSave(entries.list.map((e) => ({ ...e })))}
          >
            {t('common.save')}
          </button>
        </div>
        <Show when={!save.loading && save.error}>{(error) => <ErrorBanner error={error()} />}</Show>
      </div>
    </details>
  );
}
