import { A, useNavigate } from '@solidjs/router';
import { createResource, createSignal, createUniqueId, For, onCleanup, onMount, Show } from 'solid-js';
import { fetchMe, updateMe } from '../auth/auth.api';
import { importChat } from '../chats/chats.api';
import { localizeValidation } from '../components/validation';
import { createAction } from '../state/create-action';
import { ErrorBanner } from '../components/error-banner';
import { t } from '../i18n/i18n';
import { LocaleSwitch } from '../i18n/locale-switch';
import { paths } from '../routes';
import { setPageTitle } from '../state/page-title';
import { accountChanged, signOut } from '../state/session';
import { setTheme, theme, themes } from '../state/theme';

/** The user's preferences: theme and language (kept in this browser), and signing out. */
export function SettingsPage() {
  const headingId = createUniqueId();
  const themeName = createUniqueId();
  let heading: HTMLHeadingElement | undefined;
  onMount(() => heading?.focus());
  onMount(() => setPageTitle(t('settings.title')));
  onCleanup(() => setPageTitle(null));

  return (
    <main id="main" class="page settings" tabIndex={-1} aria-labelledby={headingId}>
      <A href={paths.home} class="button small">
        ← {t('settings.back')}
      </A>
      <h2 id={headingId} ref={(element) => (heading = element)} tabIndex={-1}>
        {t('settings.title')}
      </h2>
      <section class="card stack">
        <DisplayName />
        <fieldset class="theme-choice">
          <legend>{t('settings.theme')}</legend>
          <For each={themes}>
            {(option) => (
              <label>
                <input
                  type="radio"
                  name={themeName}
                  value={option}
                  checked={theme() === option}
                  onChange={() => setTheme(option)}
                />
                {t(`settings.theme.${option}`)}
              </label>
            )}
          </For>
        </fieldset>
        <div>
          <h3>{t('settings.language')}</h3>
          <LocaleSwitch />
        </div>
        <ImportChat />
        <div>
          <h3>{t('settings.account')}</h3>
          <button type="button" onClick={() => signOut()}>
            {t('auth.signOut')}
          </button>
        </div>
      </section>
    </main>
  );
}

/** A chat exported as JSON (from any Parley) becomes a new chat of this user's. */
function ImportChat() {
  const id = createUniqueId();
  const navigate = useNavigate();
  const [error, setError] = createSignal<unknown>(null);
  const [notJson, setNotJson] = createSignal(false);
  const [busy, setBusy] = createSignal(false);
  const onFile = async (file: File | undefined) => {
    if (!file) return;
    setError(null);
    setNotJson(false);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await file.text());
    } catch {
      setNotJson(true);
      return;
    }
    setBusy(true);
    try {
      // The server checks the file against the contract and says what is wrong with it.
      const chat = await importChat(parsed as Parameters<typeof importChat>[0]);
      navigate(paths.chat(chat.id));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div>
      <h3>{t('settings.import')}</h3>
      <label for={id} class="hint">
        {t('settings.importHint')}
      </label>
      <input
        id={id}
        type="file"
        accept="application/json,.json"
        disabled={busy()}
        onChange={(event) => void onFile(event.currentTarget.files?.[0])}
      />
      <Show when={notJson()}>
        <p class="error-banner" role="alert">
          {t('settings.importNotJson')}
        </p>
      </Show>
      <Show when={error()}>{(failure) => <ErrorBanner error={failure()} />}</Show>
    </div>
  );
}

/** The name shown in the header (and to no one else); blank removes it. */
function DisplayName() {
  const id = createUniqueId();
  const [me] = createResource(() => fetchMe());
  const [saved, setSaved] = createSignal(false);
  const [save, submit] = createAction(async (displayName: string) => {
    const user = await updateMe({ displayName: displayName.trim() || null });
    accountChanged();
    setSaved(true);
    return user;
  });
  return (
    <form
      ref={localizeValidation}
      class="field"
      onSubmit={(event) => {
        event.preventDefault();
        setSaved(false);
        submit(String(new FormData(event.currentTarget).get('displayName') ?? ''));
      }}
    >
      <label for={id}>{t('settings.displayName')}</label>
      <div class="inline-form">
        <input id={id} name="displayName" maxLength={80} autocomplete="nickname" value={me.latest?.displayName ?? ''} />
        <button type="submit" class="small" disabled={save.loading}>
          {t('common.save')}
        </button>
      </div>
      <p class="hint" role="status">
        {saved() ? t('settings.saved') : ''}
      </p>
      <Show when={!save.loading && save.error}>{(error) => <ErrorBanner error={error()} />}</Show>
    </form>
  );
}
