import { createSignal, createUniqueId, For, Show, type Resource } from 'solid-js';
import type { Character, CharacterImport as ImportResult, Chat, Persona } from '@parley/api-types';
import { ErrorBanner } from '../components/error-banner';
import { createChat } from '../chats/chats.api';
import { t } from '../i18n/i18n';
import { createAction } from '../state/create-action';
import { Avatar } from './avatar';
import { CharacterImport } from './character-import';
import { PersonaSettings } from './persona-settings';

interface CharacterPickerProps {
  characters: Resource<Character[]>;
  onStarted: (chat: Chat) => void;
  /** Open the editor: a character's id, or null for a new one. */
  onEdit: (characterId: string | null) => void;
  onImported: (result: ImportResult) => void;
  onPersonas: (personas: Persona[]) => void;
}

/** The characters one can talk to (the user's own first); import, create and edit their own. */
export function CharacterPicker(props: CharacterPickerProps) {
  const [personas, setPersonas] = createSignal<Persona[]>([]);
  // Who the user plays in the next chat: the default persona unless another is picked.
  const [personaId, setPersonaId] = createSignal<string | null>(null);
  const chosenPersona = () => personaId() ?? personas().find((p) => p.isDefault)?.id;
  const greetings = new Map<string, number>();
  const [start, startChat] = createAction(async (characterId: string) => {
    const persona = chosenPersona();
    const chat = await createChat(characterId, {
      greetingIndex: greetings.get(characterId) ?? 0,
      ...(persona ? { personaId: persona } : {}),
    });
    props.onStarted(chat);
    return chat;
  });
  const titleId = createUniqueId();

  return (
    <section class="character-picker stack" aria-labelledby={titleId}>
      <div class="editor-header">
        <h2 id={titleId}>{t('characters.title')}</h2>
        <button type="button" class="small" onClick={() => props.onEdit(null)}>
          {t('characters.new')}
        </button>
      </div>
      <CharacterImport onImported={(result) => props.onImported(result)} />
      <Show when={personas().length > 1}>
        <label class="field">
          {t('characters.playAs')}
          <select value={chosenPersona() ?? ''} onChange={(e) => setPersonaId(e.currentTarget.value || null)}>
            <For each={personas()}>{(persona) => <option value={persona.id}>{persona.name}</option>}</For>
          </select>
        </label>
      </Show>
      <Show when={!start.loading && start.error}>{(error) => <ErrorBanner error={error()} />}</Show>
      <Show when={props.characters.latest}>
        {(characters) => (
          <Show when={characters().length > 0} fallback={<p class="muted">{t('characters.empty')}</p>}>
            <ul class="character-grid">
              <For each={characters()}>
                {(character) => {
                  const nameId = createUniqueId();
                  return (
                    <li class="card character-card" lang={character.locale} data-character-id={character.id}>
                      <div class="character-heading">
                        <Avatar url={character.avatarUrl} name={character.name} size="large" />
                        <div>
                          <h3 id={nameId}>{character.name}</h3>
                          <span class="hint">
                            {character.builtIn === false ? t('characters.mine') : t('characters.builtIn')}
                          </span>
                        </div>
                      </div>
                      <p>{character.description}</p>
                      <Show when={(character.alternateGreetings ?? []).length > 0}>
                        <label class="field">
                          {t('characters.greeting')}
                          <select onChange={(e) => greetings.set(character.id, Number(e.currentTarget.value))}>
                            <option value="0">{t('characters.firstGreeting')}</option>
                            <For each={character.alternateGreetings ?? []}>
                              {(greeting, i) => (
                                <option value={i() + 1}>
                                  {greeting.length > 60 ? `${greeting.slice(0, 60)}…` : greeting}
                                </option>
                              )}
                            </For>
                          </select>
                        </label>
                      </Show>
                      <div class="editor-actions">
                        <button
                          type="button"
                          class="primary"
                          disabled={start.loading}
                          aria-describedby={nameId}
                          onClick={() => startChat(character.id)}
                        >
                          {t('characters.start')}
                        </button>
                        <Show when={character.builtIn === false}>
                          <button
                            type="button"
                            aria-label={t('characters.edit.label', { name: character.name })}
                            onClick={() => props.onEdit(character.id)}
                          >
                            {t('characters.edit')}
                          </button>
                        </Show>
                      </div>
                    </li>
                  );
                }}
              </For>
            </ul>
          </Show>
        )}
      </Show>
      <PersonaSettings
        onChanged={(items) => {
          setPersonas(items);
          props.onPersonas(items);
        }}
      />
    </section>
  );
}
