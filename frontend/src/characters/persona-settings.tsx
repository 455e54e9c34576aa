import { createResource, createSignal, createUniqueId, For, Show } from 'solid-js';
import type { Persona } from '@parley/api-types';
import { ErrorBanner } from '../components/error-banner';
import { t } from '../i18n/i18n';
import { createAction } from '../state/create-action';
import { deletePersona, fetchPersonas, savePersona } from './characters.api';

/** Who the user is in their stories: personas, one of them the default for new chats. */
export function PersonaSettings(props: { onChanged: (personas: Persona[]) => void }) {
  const [personas, { refetch }] = createResource(async () => {
    const items = await fetchPersonas();
    props.onChanged(items);
    return items;
  });
  const [editing, setEditing] = createSignal<Persona | null>(null);
  const [name, setName] = createSignal('');
  const [description, setDescription] = createSignal('');
  const [isDefault, setIsDefault] = createSignal(false);
  const [save, runSave] = createAction(async () => {
    const saved = await savePersona(editing()?.id ?? null, {
      name: name(),
      description: description(),
      isDefault: isDefault(),
    });
    setEditing(null);
    setName('');
    setDescription('');
    setIsDefault(false);
    await refetch();
    return saved;
  });
  const [removal, runRemove] = createAction(async (id: string) => {
    await deletePersona(id);
    await refetch();
  });
  const titleId = createUniqueId();
  const nameId = createUniqueId();
  const descriptionId = createUniqueId();
  const defaultId = createUniqueId();

  return (
    <section class="persona-settings card stack" aria-labelledby={titleId}>
      <h3 id={titleId}>{t('personas.title')}</h3>
      <Show when={personas.error}>{(error) => <ErrorBanner error={error()} />}</Show>
      <ul class="persona-list">
        <For each={personas.latest ?? []}>
          {(persona) => (
            <li>
              <strong>{persona.name}</strong>
              <Show when={persona.isDefault}>
                {' '}
                <span class="hint">({t('personas.default')})</span>
              </Show>{' '}
              <button
                type="button"
                class="small"
                onClick={() => {
                  setEditing(persona);
                  setName(persona.name);
                  setDescription(persona.description);
                  setIsDefault(persona.isDefault);
                }}
              >
                {t('personas.edit')}
              </button>{' '}
              <button type="button" class="small" onClick={() => runRemove(persona.id)}>
                {t('personas.delete')}
              </button>
            </li>
          )}
        </For>
      </ul>
      <form
        class="stack"
        onSubmit={(event) => {
          event.preventDefault();
          runSave(undefined);
        }}
      >
        <label for={nameId}>{t('personas.name')}</label>
        <input id={nameId} value={name()} onInput={(e) => setName(e.currentTarget.value)} />
        <label for={descriptionId}>{t('personas.description')}</label>
        <textarea
          id={descriptionId}
          rows={2}
          value={description()}
          onInput={(e) => setDescription(e.currentTarget.value)}
        />
        <label for={defaultId}>
          <input
            id={defaultId}
            type="checkbox"
            checked={isDefault()}
            onChange={(e) => setIsDefault(e.currentTarget.checked)}
          />{' '}
          {t('personas.makeDefault')}
        </label>
        <Show when={!save.loading && save.error}>{(error) => <ErrorBanner error={error()} />}</Show>
        <Show when={!removal.loading && removal.error}>{(error) => <ErrorBanner error={error()} />}</Show>
        <button type="submit" class="primary small" disabled={save.loading || name().trim() === ''}>
          {editing() ? t('common.save') : t('personas.add')}
        </button>
      </form>
    </section>
  );
}
