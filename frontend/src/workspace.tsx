import { createResource, createSignal, ErrorBoundary, Match, onCleanup, Suspense, Switch, type JSX } from 'solid-js';
import type { Chat, Persona } from '@parley/api-types';
import { CharacterEditor } from './characters/character-editor';
import { ChatLorebook } from './characters/chat-lorebook';
import { CharacterPicker } from './characters/character-picker';
import { fetchCharacters } from './characters/characters.api';
import { createChatList, previewOf } from './chats/chat-list';
import { ChatSidebar } from './chats/chat-sidebar';
import { ChatView } from './chats/chat-view';
import { ErrorBanner } from './components/error-banner';
import { t } from './i18n/i18n';
import { accountChanged, locale, setLiveBalance } from './state/session';
import { createOpenChat } from './state/open-chat';
import { onRealtimeEvent, onRealtimeResync, startRealtime } from './realtime/realtime';

/** A panel that fails or loads on its own, so the rest of the page stays usable. */
function Panel(props: { retry?: () => void; children: JSX.Element }) {
  return (
    <ErrorBoundary
      fallback={(error, reset) => (
        <ErrorBanner
          error={error}
          onRetry={() => {
            props.retry?.();
            reset();
          }}
        />
      )}
    >
      <Suspense fallback={<p class="muted">{t('common.loading')}</p>}>{props.children}</Suspense>
    </ErrorBoundary>
  );
}

/** The signed-in screen: chats on the side, the character picker or one chat in the main area. */
export function Workspace() {
  // Keyed by locale: character names and descriptions come back in the chosen language.
  const [characters, { refetch: refetchCharacters }] = createResource(locale, () => fetchCharacters());
  const chats = createChatList();
  const [openChatId, setOpenChatId] = createOpenChat();
  // The character editor in the main area: a character's id, 'new', or closed.
  const [editing, setEditing] = createSignal<string | null>(null);
  const [personas, setPersonas] = createSignal<Persona[]>([]);
  const userName = () => personas().find((p) => p.isDefault)?.name ?? 'User';

  // What the user's other tabs and devices change shows here as it happens.
  onCleanup(startRealtime());
  onCleanup(
    onRealtimeEvent((event) => {
      switch (event.type) {
        case 'chat.created':
          return chats.added(event.chat);
        case 'chat.renamed':
          return chats.updated(event.chat);
        case 'chat.title_updated':
          return chats.retitled(event.chatId, event.title);
        case 'chat.deleted':
          chats.removed(event.chatId);
          if (openChatId() === event.chatId) setOpenChatId(null);
          return;
        case 'message.created':
        case 'message.updated': {
          const { message } = event;
          if (message.role === 'assistant' && message.status === 'pending') return;
          chats.touched(event.chatId, previewOf({ ...message, createdAt: message.updatedAt }));
          return;
        }
        case 'balance.changed':
          return setLiveBalance(event.tokenBalance);
        case 'reply.delta':
          return;
      }
    }),
  );
  onCleanup(onRealtimeResync(() => void chats.refetch()));

  // Names only once loaded: a slow or failed character list must not hold up the chat list.
  const characterName = (characterId: string) => {
    const loaded = characters.state === 'ready' || characters.state === 'refreshing';
    return (loaded ? characters.latest : undefined)?.find((c) => c.id === characterId)?.name;
  };
  const characterOf = (characterId: string) => {
    const loaded = characters.state === 'ready' || characters.state === 'refreshing';
    return (loaded ? characters.latest : undefined)?.find((c) => c.id === characterId);
  };
  const avatarOf = (chat: Chat) => characterOf(chat.characterId)?.avatarUrl;
  const titleOf = (chat: Chat) => chat.title ?? characterName(chat.characterId) ?? t('chats.untitled');
  const chatTitle = (chatId: string) => {
    const chat = chats.find(chatId);
    return chat ? titleOf(chat) : t('chats.untitled');
  };
  const assistantName = (chatId: string) => {
    const chat = chats.find(chatId);
    return (chat && characterName(chat.characterId)) ?? t('chat.character');
  };

  return (
    <div class="workspace" classList={{ 'has-open-chat': openChatId() !== null }}>
      <aside class="sidebar">
        <div class="sidebar-header">
          <h2>{t('chats.title')}</h2>
          <button type="button" class="primary small" onClick={() => setOpenChatId(null)}>
            {t('chats.new')}
          </button>
        </div>
        <Panel retry={() => void chats.refetch()}>
          <ChatSidebar
            chats={chats}
            activeChatId={openChatId()}
            titleOf={titleOf}
            avatarOf={avatarOf}
            onOpen={setOpenChatId}
            onDeleted={(chatId) => {
              if (openChatId() === chatId) setOpenChatId(null);
            }}
          />
        </Panel>
      </aside>
      <main class="main">
        <Switch>
          {/* Keyed: a fresh ChatView, with its own paging state, for each chat. */}
          <Match when={openChatId()} keyed>
            {(chatId) => (
              <Panel>
                <ChatView
                  chatId={chatId}
                  title={chatTitle(chatId)}
                  characterName={assistantName(chatId)}
                  characterAvatarUrl={(() => {
                    const chat = chats.find(chatId);
                    return chat ? avatarOf(chat) : null;
                  })()}
                  onBack={() => setOpenChatId(null)}
                  onSend={(preview) => chats.touched(chatId, preview)}
                  onFinished={(result) => {
                    const reply = result.assistantMessage;
                    chats.touched(chatId, previewOf({ ...reply, createdAt: reply.updatedAt }));
                    accountChanged();
                  }}
                />
                <ChatLorebook chatId={chatId} />
              </Panel>
            )}
          </Match>
          <Match when={openChatId() === null && editing() !== null}>
            <Panel>
              <CharacterEditor
                characterId={editing() === 'new' ? null : editing()}
                userName={userName()}
                onSaved={() => void refetchCharacters()}
                onDeleted={() => {
                  setEditing(null);
                  void refetchCharacters();
                }}
                onClose={() => setEditing(null)}
              />
            </Panel>
          </Match>
          <Match when={openChatId() === null}>
            <Panel retry={() => void refetchCharacters()}>
              <CharacterPicker
                characters={characters}
                onStarted={(chat) => {
                  chats.added(chat);
                  setOpenChatId(chat.id);
                }}
                onEdit={(characterId) => setEditing(characterId ?? 'new')}
                onImported={() => void refetchCharacters()}
                onPersonas={setPersonas}
              />
            </Panel>
          </Match>
        </Switch>
      </main>
    </div>
  );
}
