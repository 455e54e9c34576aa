import { createUniqueId, For, Show, type Resource } from 'solid-js';
import type { Character, Chat } from '@parley/api-types';
import { ErrorBanner } from '../components/error-banner';
import { createChat } from '../chats/chats.api';
import { t } from '../i18n/i18n';
import { createAction } from '../state/create-action';

interface CharacterPickerProps {
  characters: Resource<Character[]>;
  onStarted: (chat: Chat) => void;
}

/** The characters one can talk to; "Start chat" creates a chat and opens it. */
export function CharacterPicker(props: CharacterPickerProps) {
  const [start, startChat] = createAction(async (characterId: string) => {
    const chat = await createChat(characterId);
    props.onStarted(chat);
    return chat;
  });
  const titleId = createUniqueId();

  return (
    <section class="character-picker" aria-labelledby={titleId}>
      <h2 id={titleId}>{t('characters.title')}</h2>
      <Show when={!start.loading && start.error}>{(error) => <ErrorBanner error={error()} />}</Show>
      <Show when={props.characters.latest}>
        {(characters) => (
          <Show when={characters().length > 0} fallback={<p class="muted">{t('characters.empty')}</p>}>
            <ul class="character-grid">
              <For each={characters()}>
                {(character) => {
                  const nameId = createUniqueId();
                  return (
                    <li class="card character-card" lang={character.locale}>
                      <h3 id={nameId}>{character.name}</h3>
                      <p>{character.description}</p>
                      <button
                        type="button"
                        class="primary"
                        disabled={start.loading}
                        aria-describedby={nameId}
                        onClick={() => startChat(character.id)}
                      >
                        {t('characters.start')}
                      </button>
                    </li>
                  );
                }}
              </For>
            </ul>
          </Show>
        )}
      </Show>
    </section>
  );
}
