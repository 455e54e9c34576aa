import { A, type RouteSectionProps } from '@solidjs/router';
import { createEffect, ErrorBoundary, on, Show, Suspense } from 'solid-js';
import { AccountBar } from './auth/account-bar';
import { AuthForm } from './auth/auth-form';
import { ErrorBanner } from './components/error-banner';
import { htmlLang, t } from './i18n/i18n';
import { LocaleSwitch } from './i18n/locale-switch';
import { paths } from './routes';
import { pageTitle } from './state/page-title';
import { locale, token } from './state/session';
import { applyTheme, theme } from './state/theme';

/**
 * The frame of every screen: a header that stays in place and the screen below it, which
 * scrolls on its own. Signed out, every address shows the sign-in form.
 */
export function App(props: RouteSectionProps) {
  createEffect(() => {
    document.documentElement.lang = htmlLang(locale());
    const screen = token() ? pageTitle() : null;
    document.title = screen ? `${screen} · ${t('app.title')}` : t('app.title');
  });
  createEffect(() => applyTheme(theme()));
  // Signing in or out replaces the whole screen, taking the focused control with it: start again
  // at the top of the new screen (unless the screen focused something itself, as a chat does).
  createEffect(
    on(
      token,
      () =>
        requestAnimationFrame(() => {
          if (document.activeElement === document.body || document.activeElement === null)
            document.getElementById('main')?.focus();
        }),
      { defer: true },
    ),
  );

  return (
    <div class="app">
      <a class="skip-link" href="#main">
        {t('app.skip')}
      </a>
      <header class="app-header">
        <h1 class="brand">
          <Show when={token()} fallback={t('app.title')}>
            <A href={paths.home} end>
              {t('app.title')}
            </A>
          </Show>
        </h1>
        <div class="header-tools">
          <LocaleSwitch />
          <Show when={token()}>
            <AccountBar />
          </Show>
        </div>
      </header>
      <ErrorBoundary fallback={(error, reset) => <ErrorBanner error={error} onRetry={reset} />}>
        <Suspense fallback={<p class="muted">{t('common.loading')}</p>}>
          <Show
            when={token()}
            fallback={
              <main id="main" class="page" tabIndex={-1}>
                <AuthForm />
              </main>
            }
          >
            {props.children}
          </Show>
        </Suspense>
      </ErrorBoundary>
    </div>
  );
}
