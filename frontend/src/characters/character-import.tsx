import { createSignal, createUniqueId, Show } from 'solid-js';
import type { CharacterImport } from '@parley/api-types';
import { ErrorBanner } from '../components/error-banner';
import { t } from '../i18n/i18n';
import { createAction } from '../state/create-action';
import { importCard } from './characters.api';

/** Imports a Character Card (PNG or JSON) chosen with the file picker or dropped on the zone. */
export function CharacterImport(props: { onImported: (result: CharacterImport) => void }) {
  const [dragging, setDragging] = createSignal(false);
  const [result, run] = createAction(async (file: File) => {
    const imported = await importCard(file);
    props.onImported(imported);
    return imported;
  });
  const inputId = createUniqueId();
  const take = (files: FileList | null | undefined) => {
    const file = files?.[0];
    if (file) run(file);
  };

  return (
    <div
      class="import-zone"
      classList={{ dragging: dragging() }}
      data-testid="import-zone"
      onDragOver={(event) => {
        event.preventDefault();
        setDragging(true);
      }}
      onDragLeave={() => setDragging(false)}
      onDrop={(event) => {
        event.preventDefault();
        setDragging(false);
        take(event.dataTransfer?.files);
      }}
    >
      <p>{t('import.hint')}</p>
      <label class="button" for={inputId}>
        {t('import.choose')}
      </label>
      <input
        id={inputId}
        class="visually-hidden"
        type="file"
        accept=".png,.json,image/png,application/json"
        onChange={(event) => {
          take(event.currentTarget.files);
          event.currentTarget.value = '';
        }}
      />
      <Show when={result.loading}>
        <p class="muted">{t('import.importing')}</p>
      </Show>
      <Show when={!result.loading && result.error}>{(error) => <ErrorBanner error={error()} />}</Show>
      <Show when={!result.loading && !result.error && result()}>
        {(done) => (
          <p role="status">
            {t('import.done', { name: done().character.name })}
            <Show when={done().droppedFields.length > 0}>
              {' '}
              {t('import.dropped', { fields: done().droppedFields.join(', ') })}
            </Show>
          </p>
        )}
      </Show>
    </div>
  );
}
