import { A, useLocation, useNavigate, useParams, useSearchParams } from '@solidjs/router';
import {
  createEffect,
  createResource,
  createSignal,
  ErrorBoundary,
  Match,
  onCleanup,
  Suspense,
  Switch,
  type JSX,
} from 'solid-js';
import type { Chat, Persona } from '@parley/api-types';
import { CharacterEditor } from './characters/character-editor';
import { ChatLorebook } from './characters/chat-lorebook';
import { ChatMemory } from './chats/chat-memory';
import { CharacterPicker } from './characters/character-picker';
import { fetchCharacters } from './characters/characters.api';
import { createChatList, previewOf } from './chats/chat-list';
import { ChatSidebar } from './chats/chat-sidebar';
import { ChatView } from './chats/chat-view';
import { loadMarkdown } from './chats/markdown-loader';
import { ErrorBanner } from './components/error-banner';
import { t } from './i18n/i18n';
import { accountChanged, locale, setLiveBalance } from './state/session';
import { setPageTitle } from './state/page-title';
import { chatIdFrom, paths, seqFrom } from './routes';
import { SearchBox } from './search/search-box';
import { SearchResults } from './search/search-results';
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

/**
 * The signed-in screen: chats on the side, the character picker or one chat in the main area.
 * On a phone each of the three is a screen of its own: the list at `/`, the picker at `/new`,
 * a chat at `/chats/<id>`.
 */
export function Workspace() {
  // Keyed by locale: character names and descriptions come back in the chosen language.
  const [characters, { refetch: refetchCharacters }] = createResource(locale, () => fetchCharacters());
  const chats = createChatList();
  const params = useParams<{ chatId?: string }>();
  const location = useLocation();
  const navigate = useNavigate();
  const openChatId = () => chatIdFrom(params.chatId);
  const [searchParams] = useSearchParams<{ at?: string }>();
  const screen = () => {
    if (openChatId()) return 'chat';
    if (location.pathname === paths.home) return 'list';
    return location.pathname === '/search' ? 'search' : 'new';
  };
  const setOpenChatId = (chatId: string | null, options?: { replace?: boolean }) =>
    navigate(chatId ? paths.chat(chatId) : paths.home, options);
  // The character editor in the main area: a character's id, 'new', or closed.
  const [editing, setEditing] = createSignal<string | null>(null);
  const [personas, setPersonas] = createSignal<Persona[]>([]);
  const userName = () => personas().find((p) => p.isDefault)?.name ?? 'User';

  // Signed in: fetch the Markdown renderer now, while the chat list loads.
  void loadMarkdown();

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
          if (openChatId() === event.chatId) setOpenChatId(null, { replace: true });
          return;
        case 'message.created':
        case 'message.updated': {
          const { message } = event;
          if (message.role === 'assistant' && message.status === 'pending') return;
          chats.touched(event.chatId, previewOf({ ...message, createdAt: message.updatedAt }));
          return;
        }
        case 'chat.path_changed':
        case 'message.deleted':
          return void chats.pathEvent(event);
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

  // The tab names the open chat.
  createEffect(() => {
    const chatId = openChatId();
    setPageTitle(chatId ? chatTitle(chatId) : null);
  });
  onCleanup(() => setPageTitle(null));

  return (
    // One <main> for the whole area, so a phone showing only the list still has one.
    <main id="main" class={`workspace screen-${screen()}`} tabIndex={-1}>
      <div class="sidebar">
        <div class="sidebar-header">
          <h2>{t('chats.title')}</h2>
          <A href={paths.newChat} class="button primary small">
            {t('chats.new')}
          </A>
        </div>
        <SearchBox />
        <Panel retry={() => void chats.refetch()}>
          <ChatSidebar
            chats={chats}
            activeChatId={openChatId()}
            titleOf={titleOf}
            avatarOf={avatarOf}
            onOpen={setOpenChatId}
            onDeleted={(chatId) => {
              if (openChatId() === chatId) setOpenChatId(null, { replace: true });
            }}
          />
        </Panel>
      </div>
      <div class="main">
        <Switch>
          {/* Keyed: a fresh ChatView, with its own paging state, for each chat. */}
          <Match when={openChatId()} keyed>
            {(chatId) => (
              <Panel>
                <ChatView
                  chatId={chatId}
                  focusSeq={seqFrom(searchParams.at) ?? undefined}
                  title={chatTitle(chatId)}
                  characterName={assistantName(chatId)}
                  characterAvatarUrl={(() => {
                    const chat = chats.find(chatId);
                    return chat ? avatarOf(chat) : null;
                  })()}
                  onBack={() => navigate(paths.home)}
                  onSend={(preview) => chats.touched(chatId, preview)}
                  onFinished={(result) => {
                    const reply = result.assistantMessage;
                    chats.touched(chatId, previewOf({ ...reply, createdAt: reply.updatedAt }));
                    accountChanged();
                  }}
                  onChatChanged={(chat) => chats.updated(chat)}
                  onForked={(chat) => {
                    chats.added(chat);
                    setOpenChatId(chat.id);
                  }}
                />
                <ChatMemory chatId={chatId} />
                <ChatLorebook chatId={chatId} />
              </Panel>
            )}
          </Match>
          <Match when={screen() === 'search'}>
            <Panel>
              <SearchResults
                chatTitle={(hit) => hit.chatTitle ?? characterName(hit.characterId) ?? t('chats.untitled')}
              />
            </Panel>
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
            <A href={paths.home} class="button small back-to-list">
              ← {t('chat.back')}
            </A>
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
      </div>
    </main>
  );
}
