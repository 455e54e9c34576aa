import { useNavigate, useSearchParams } from '@solidjs/router';
import { createUniqueId } from 'solid-js';
import { t } from '../i18n/i18n';
import { paths } from '../routes';

/** The search field above the chat list; results open at /search?q=…. */
export function SearchBox() {
  const id = createUniqueId();
  const navigate = useNavigate();
  const [params] = useSearchParams<{ q?: string }>();
  return (
    <form
      class="search-box"
      role="search"
      onSubmit={(event) => {
        event.preventDefault();
        const q = String(new FormData(event.currentTarget).get('q') ?? '').trim();
        if (q) navigate(paths.search(q));
      }}
    >
      <label for={id} class="visually-hidden">
        {t('search.label')}
      </label>
      <input
        id={id}
        name="q"
        type="search"
        maxLength={200}
        placeholder={t('search.placeholder')}
        value={params.q ?? ''}
      />
      <button type="submit" class="small">
        {t('search.submit')}
      </button>
    </form>
  );
}
