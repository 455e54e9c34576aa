import { A } from '@solidjs/router';
import { createUniqueId, For, onCleanup, onMount } from 'solid-js';
import { t } from '../i18n/i18n';
import { LocaleSwitch } from '../i18n/locale-switch';
import { paths } from '../routes';
import { setPageTitle } from '../state/page-title';
import { signOut } from '../state/session';
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
