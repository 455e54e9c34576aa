import { A, useNavigate } from '@solidjs/router';
import { createResource, createSignal, createUniqueId, For, onCleanup, onMount, Show } from 'solid-js';
import { changePassword, deleteAccount, fetchMe, signOutEverywhere, updateMe } from '../auth/auth.api';
import { importChat } from '../chats/chats.api';
import { chatsIn, download, toArchive } from '../chats/export';
import { fetchCharacters } from '../characters/characters.api';
import { localizeValidation } from '../components/validation';
import { createAction } from '../state/create-action';
import { ErrorBanner } from '../components/error-banner';
import { t } from '../i18n/i18n';
import { LocaleSwitch } from '../i18n/locale-switch';
import { paths } from '../routes';
import { setPageTitle } from '../state/page-title';
import { accountChanged, signIn, signOut } from '../state/session';
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
        <ExportArchive />
        <ImportChat />
        <ChangePassword />
        <div class="stack">
          <h3>{t('settings.account')}</h3>
          <div class="inline-form">
            <button type="button" onClick={() => signOut()}>
              {t('auth.signOut')}
            </button>
          </div>
          <SignOutEverywhere />
        </div>
        <DeleteAccount />
      </section>
    </main>
  );
}

/**
 * A chat exported as JSON (from any Parley) becomes a new chat of this user's; an archive of all
 * chats becomes one new chat per chat in it, imported one after another.
 */
function ImportChat() {
  const id = createUniqueId();
  const navigate = useNavigate();
  const [error, setError] = createSignal<unknown>(null);
  const [notJson, setNotJson] = createSignal(false);
  const [busy, setBusy] = createSignal(false);
  const [progress, setProgress] = createSignal<{ done: number; total: number } | null>(null);
  const onFile = async (file: File | undefined) => {
    if (!file) return;
    setError(null);
    setNotJson(false);
    setProgress(null);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await file.text());
    } catch {
      setNotJson(true);
      return;
    }
    const chats = chatsIn(parsed);
    if (chats === null) {
      setNotJson(true);
      return;
    }
    const isArchive = (parsed as { format?: unknown }).format === 'parley.archive';
    setBusy(true);
    try {
      let last: string | undefined;
      for (const [index, chat] of chats.entries()) {
        // The server checks each chat against the contract and says what is wrong with it.
        last = (await importChat(chat)).id;
        if (isArchive) setProgress({ done: index + 1, total: chats.length });
      }
      if (!isArchive && last) navigate(paths.chat(last));
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
      <p class="hint" role="status">
        {progress() ? t('settings.imported', { done: progress()!.done, total: progress()!.total }) : ''}
      </p>
      <Show when={notJson()}>
        <p class="error-banner" role="alert">
          {t('settings.importNotJson')}
        </p>
      </Show>
      <Show when={error()}>{(failure) => <ErrorBanner error={failure()} />}</Show>
    </div>
  );
}

/** Every chat and every message in one JSON file, which the import above takes back. */
function ExportArchive() {
  const hintId = createUniqueId();
  const [characters] = createResource(() => fetchCharacters().catch(() => []));
  const [archive, submit] = createAction(async (_: null) => {
    const names = new Map((characters.latest ?? []).map((character) => [character.id, character.name]));
    const file = await toArchive((characterId) => names.get(characterId) ?? characterId);
    const day = file.exportedAt.slice(0, 10);
    download(`parley-chats-${day}.json`, 'application/json', JSON.stringify(file, null, 2));
    return file.chats.length;
  });
  return (
    <div class="stack">
      <h3>{t('settings.archive')}</h3>
      <p id={hintId} class="hint">
        {t('settings.archiveHint')}
      </p>
      <div class="inline-form">
        <button
          type="button"
          class="small"
          aria-describedby={hintId}
          disabled={archive.loading || characters.loading}
          onClick={() => submit(null)}
        >
          {archive.loading ? t('settings.archiveExporting') : t('settings.archiveExport')}
        </button>
      </div>
      <Show when={!archive.loading && archive.error}>{(failure) => <ErrorBanner error={failure()} />}</Show>
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

/** A new password, given the current one; this browser stays signed in with a new token. */
function ChangePassword() {
  const ids = { current: createUniqueId(), next: createUniqueId(), hint: createUniqueId() };
  const [done, setDone] = createSignal(false);
  let form: HTMLFormElement | undefined;
  const [change, submit] = createAction(async (request: { currentPassword: string; newPassword: string }) => {
    const auth = await changePassword(request);
    signIn(auth.accessToken);
    form?.reset();
    setDone(true);
    return auth.user;
  });
  return (
    <form
      ref={(element) => {
        form = element;
        localizeValidation(element);
      }}
      class="stack"
      onSubmit={(event) => {
        event.preventDefault();
        setDone(false);
        const data = new FormData(event.currentTarget);
        submit({
          currentPassword: String(data.get('currentPassword') ?? ''),
          newPassword: String(data.get('newPassword') ?? ''),
        });
      }}
    >
      <h3>{t('settings.password')}</h3>
      <div class="field">
        <label for={ids.current}>{t('settings.currentPassword')}</label>
        <input
          id={ids.current}
          name="currentPassword"
          type="password"
          autocomplete="current-password"
          maxLength={128}
          required
        />
      </div>
      <div class="field">
        <label for={ids.next}>{t('settings.newPassword')}</label>
        <input
          id={ids.next}
          name="newPassword"
          type="password"
          autocomplete="new-password"
          minLength={8}
          maxLength={128}
          required
          aria-describedby={ids.hint}
        />
        <p id={ids.hint} class="hint">
          {t('auth.passwordHint')}
        </p>
      </div>
      <div class="inline-form">
        <button type="submit" class="small" disabled={change.loading}>
          {t('settings.changePassword')}
        </button>
      </div>
      <p class="hint" role="status">
        {done() ? t('settings.passwordChanged') : ''}
      </p>
      <Show when={!change.loading && change.error}>{(error) => <ErrorBanner error={error()} />}</Show>
    </form>
  );
}

/** Every token of the account is refused from now on, this browser's included. */
function SignOutEverywhere() {
  const hintId = createUniqueId();
  const [everywhere, submit] = createAction(async (_: null) => {
    await signOutEverywhere();
    signOut();
  });
  return (
    <div class="stack">
      <div class="inline-form">
        <button type="button" aria-describedby={hintId} disabled={everywhere.loading} onClick={() => submit(null)}>
          {t('settings.signOutEverywhere')}
        </button>
      </div>
      <p id={hintId} class="hint">
        {t('settings.signOutEverywhereHint')}
      </p>
      <Show when={!everywhere.loading && everywhere.error}>{(error) => <ErrorBanner error={error()} />}</Show>
    </div>
  );
}

/** The account and all its data, for good, confirmed by the password. */
function DeleteAccount() {
  const ids = { password: createUniqueId(), hint: createUniqueId(), heading: createUniqueId() };
  const [deletion, submit] = createAction(async (password: string) => {
    await deleteAccount({ password });
    signOut();
  });
  return (
    <form
      ref={localizeValidation}
      class="stack danger-zone"
      aria-labelledby={ids.heading}
      onSubmit={(event) => {
        event.preventDefault();
        submit(String(new FormData(event.currentTarget).get('password') ?? ''));
      }}
    >
      <h3 id={ids.heading}>{t('settings.delete')}</h3>
      <p id={ids.hint} class="hint">
        {t('settings.deleteHint')}
      </p>
      <div class="field">
        <label for={ids.password}>{t('settings.deletePassword')}</label>
        <input
          id={ids.password}
          name="password"
          type="password"
          autocomplete="current-password"
          maxLength={128}
          required
          aria-describedby={ids.hint}
        />
      </div>
      <div class="inline-form">
        <button type="submit" class="danger" disabled={deletion.loading}>
          {t('settings.deleteSubmit')}
        </button>
      </div>
      <Show when={!deletion.loading && deletion.error}>{(error) => <ErrorBanner error={error()} />}</Show>
    </form>
  );
}
