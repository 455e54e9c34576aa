import { createResource, createSignal, createUniqueId, For, Show, type JSX } from 'solid-js';
import { createStore } from 'solid-js/store';
import type { CharacterDetail, CharacterInput, LorebookEntry } from '@parley/api-types';
import { ErrorBanner } from '../components/error-banner';
import { t } from '../i18n/i18n';
import { createAction } from '../state/create-action';
import { Avatar } from './avatar';
import {
  createCharacter,
  deleteCharacter,
  exportCard,
  fetchMyCharacter,
  fetchTools,
  updateCharacter,
  uploadAvatar,
} from './characters.api';

interface EditorProps {
  /** The character to edit, or null for a new one. */
  characterId: string | null;
  /** The persona name that fills {{user}} in the preview. */
  userName: string;
  onSaved: (character: CharacterDetail) => void;
  onDeleted: () => void;
  onClose: () => void;
}

interface Draft {
  name: string;
  description: string;
  personality: string;
  scenario: string;
  firstMessage: string;
  alternateGreetings: string;
  exampleDialogue: string;
  systemPrompt: string;
  postHistoryInstructions: string;
  creatorNotes: string;
  tags: string;
  zhName: string;
  zhDescription: string;
  zhFirstMessage: string;
  entries: LorebookEntry[];
  tools: string[];
}

const empty: Draft = {
  name: '',
  description: '',
  personality: '',
  scenario: '',
  firstMessage: '',
  alternateGreetings: '',
  exampleDialogue: '',
  systemPrompt: '',
  postHistoryInstructions: '',
  creatorNotes: '',
  tags: '',
  zhName: '',
  zhDescription: '',
  zhFirstMessage: '',
  entries: [],
  tools: [],
};

function draftOf(c: CharacterDetail): Draft {
  return {
    name: c.name,
    description: c.description,
    personality: c.personality,
    scenario: c.scenario,
    firstMessage: c.firstMessage,
    // One alternate greeting per paragraph (separated by a blank line).
    alternateGreetings: c.alternateGreetings.join('\n\n'),
    exampleDialogue: c.exampleDialogue,
    systemPrompt: c.systemPrompt,
    postHistoryInstructions: c.postHistoryInstructions,
    creatorNotes: c.creatorNotes,
    tags: c.tags.join(', '),
    zhName: c.zh?.name ?? '',
    zhDescription: c.zh?.description ?? '',
    zhFirstMessage: c.zh?.firstMessage ?? '',
    entries: c.lorebook?.entries ?? [],
    tools: c.tools ?? [],
  };
}

const list = (text: string, separator: RegExp) =>
  text
    .split(separator)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/** `available`: the server's tools; a name it no longer has is dropped on save (it would be refused). */
function inputOf(d: Draft, available: ReadonlySet<string>): CharacterInput {
  return {
    name: d.name,
    description: d.description,
    personality: d.personality,
    scenario: d.scenario,
    firstMessage: d.firstMessage,
    alternateGreetings: list(d.alternateGreetings, /\n\s*\n/),
    exampleDialogue: d.exampleDialogue,
    systemPrompt: d.systemPrompt,
    postHistoryInstructions: d.postHistoryInstructions,
    creatorNotes: d.creatorNotes,
    tags: list(d.tags, /,/),
    zh: { name: d.zhName, description: d.zhDescription, firstMessage: d.zhFirstMessage },
    ...(d.entries.length > 0 ? { lorebook: { entries: d.entries } } : {}),
    tools: d.tools.filter((name) => available.has(name)),
  };
}

export function expandPreview(text: string, char: string, user: string): string {
  return text.replace(/\{\{(char|user)\}\}/gi, (_m, which: string) => (which.toLowerCase() === 'user' ? user : char));
}

/** Create or edit one of the user's characters: texts, greeting preview, avatar, lorebook, export. */
export function CharacterEditor(props: EditorProps) {
  const [draft, setDraft] = createStore<Draft>({ ...empty, entries: [], tools: [] });
  const [tools] = createResource(fetchTools);
  const [saved, setSaved] = createSignal<CharacterDetail | null>(null);
  const [loaded] = createResource(
    () => props.characterId,
    async (id) => {
      const character = await fetchMyCharacter(id);
      setDraft(draftOf(character));
      setSaved(character);
      return character;
    },
  );
  const [save, runSave] = createAction(async (input: CharacterInput) => {
    const id = saved()?.id;
    const character = id ? await updateCharacter(id, input) : await createCharacter(input);
    setSaved(character);
    props.onSaved(character);
    return character;
  });
  const [avatar, runAvatar] = createAction(async (file: File) => {
    const id = saved()?.id;
    if (!id) return null;
    const character = await uploadAvatar(id, file);
    setSaved(character);
    props.onSaved(character);
    return character;
  });
  const [exported, runExport] = createAction((format: 'png' | 'json') => exportCard(saved()!.id, format));
  const [removed, runRemove] = createAction(async (id: string) => {
    await deleteCharacter(id);
    props.onDeleted();
  });
  const titleId = createUniqueId();

  const field = (key: keyof Omit<Draft, 'entries'>, label: string, multiline = false): JSX.Element => {
    const id = createUniqueId();
    return (
      <div class="field">
        <label for={id}>{label}</label>
        {multiline ? (
          <textarea id={id} rows={3} value={draft[key]} onInput={(e) => setDraft(key, e.currentTarget.value)} />
        ) : (
          <input id={id} value={draft[key]} onInput={(e) => setDraft(key, e.currentTarget.value)} />
        )}
      </div>
    );
  };

  return (
    <section class="character-editor stack" aria-labelledby={titleId}>
      <div class="editor-header">
        <h2 id={titleId}>{props.characterId ? t('editor.editTitle') : t('editor.newTitle')}</h2>
        <button type="button" onClick={() => props.onClose()}>
          {t('editor.close')}
        </button>
      </div>
      <Show when={loaded.error}>{(error) => <ErrorBanner error={error()} />}</Show>
      <form
        class="stack"
        onSubmit={(event) => {
          event.preventDefault();
          runSave(inputOf(draft, new Set((tools() ?? []).map((tool) => tool.name))));
        }}
      >
        {field('name', t('editor.name'))}
        {field('description', t('editor.description'), true)}
        {field('personality', t('editor.personality'), true)}
        {field('scenario', t('editor.scenario'), true)}
        {field('firstMessage', t('editor.firstMessage'), true)}
        <div class="greeting-preview" aria-live="polite">
          <span class="hint">{t('editor.preview')}</span>
          <p data-testid="greeting-preview">
            {expandPreview(draft.firstMessage, draft.name || t('chat.character'), props.userName)}
          </p>
        </div>
        {field('alternateGreetings', t('editor.alternateGreetings'), true)}
        {field('exampleDialogue', t('editor.exampleDialogue'), true)}
        {field('systemPrompt', t('editor.systemPrompt'), true)}
        {field('postHistoryInstructions', t('editor.postHistory'), true)}
        {field('creatorNotes', t('editor.creatorNotes'), true)}
        {field('tags', t('editor.tags'))}
        <fieldset class="stack">
          <legend>{t('editor.chinese')}</legend>
          {field('zhName', t('editor.name'))}
          {field('zhDescription', t('editor.description'), true)}
          {field('zhFirstMessage', t('editor.firstMessage'), true)}
        </fieldset>
        <fieldset class="stack">
          <legend>{t('editor.lorebook')}</legend>
          <For each={draft.entries}>
            {(entry, index) => {
              const keysId = createUniqueId();
              const contentId = createUniqueId();
              return (
                <div class="lore-entry card stack">
                  <label for={keysId}>{t('editor.loreKeys')}</label>
                  <input
                    id={keysId}
                    value={entry.keys.join(', ')}
                    onInput={(e) => setDraft('entries', index(), 'keys', list(e.currentTarget.value, /,/))}
                  />
                  <label for={contentId}>{t('editor.loreContent')}</label>
                  <textarea
                    id={contentId}
                    rows={2}
                    value={entry.content}
                    onInput={(e) => setDraft('entries', index(), 'content', e.currentTarget.value)}
                  />
                  <button
                    type="button"
                    class="small"
                    onClick={() => setDraft('entries', (entries) => entries.filter((_, i) => i !== index()))}
                  >
                    {t('editor.loreRemove')}
                  </button>
                </div>
              );
            }}
          </For>
          <button
            type="button"
            class="small"
            onClick={() => setDraft('entries', (entries) => [...entries, { keys: [], content: '' }])}
          >
            {t('editor.loreAdd')}
          </button>
        </fieldset>
        <fieldset class="stack character-tools">
          <legend>{t('editor.tools')}</legend>
          <p class="hint">{t('editor.toolsHint')}</p>
          <Show when={tools.error}>{(error) => <ErrorBanner error={error()} />}</Show>
          <For each={tools()}>
            {(tool) => {
              const id = createUniqueId();
              return (
                <div class="tool-option">
                  <input
                    id={id}
                    type="checkbox"
                    value={tool.name}
                    checked={draft.tools.includes(tool.name)}
                    onChange={(e) => {
                      const on = e.currentTarget.checked;
                      setDraft('tools', (names) =>
                        on
                          ? [...names.filter((n) => n !== tool.name), tool.name]
                          : names.filter((n) => n !== tool.name),
                      );
                    }}
                  />
                  <label for={id}>
                    <code>{tool.name}</code> <span class="hint">{tool.description}</span>
                  </label>
                </div>
              );
            }}
          </For>
        </fieldset>
        <Show when={!save.loading && save.error}>{(error) => <ErrorBanner error={error()} />}</Show>
        <button type="submit" class="primary" disabled={save.loading || draft.name.trim() === ''}>
          {t('common.save')}
        </button>
      </form>
      <Show when={saved()}>
        {(character) => (
          <div class="stack">
            <div class="avatar-row">
              <Avatar url={character().avatarUrl} name={character().name} size="large" />
              <label class="button">
                {t('editor.avatar')}
                <input
                  class="visually-hidden"
                  type="file"
                  accept="image/png,image/jpeg,image/webp"
                  onChange={(e) => {
                    const file = e.currentTarget.files?.[0];
                    if (file) runAvatar(file);
                    e.currentTarget.value = '';
                  }}
                />
              </label>
            </div>
            <Show when={!avatar.loading && avatar.error}>{(error) => <ErrorBanner error={error()} />}</Show>
            <div class="editor-actions">
              <button type="button" onClick={() => runExport('png')}>
                {t('editor.exportPng')}
              </button>
              <button type="button" onClick={() => runExport('json')}>
                {t('editor.exportJson')}
              </button>
              <button
                type="button"
                class="danger"
                disabled={removed.loading}
                onClick={() => {
                  if (window.confirm(t('editor.deleteConfirm', { name: character().name }))) runRemove(character().id);
                }}
              >
                {t('editor.delete')}
              </button>
            </div>
            <Show when={!exported.loading && exported.error}>{(error) => <ErrorBanner error={error()} />}</Show>
            <Show when={!removed.loading && removed.error}>{(error) => <ErrorBanner error={error()} />}</Show>
          </div>
        )}
      </Show>
    </section>
  );
}
