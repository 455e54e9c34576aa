import { createEffect, ErrorBoundary, Show, Suspense } from 'solid-js';
import { AccountBar } from './auth/account-bar';
import { AuthForm } from './auth/auth-form';
import { ErrorBanner } from './components/error-banner';
import { htmlLang, t } from './i18n/i18n';
import { LocaleSwitch } from './i18n/locale-switch';
import { locale, token } from './state/session';
import { Workspace } from './workspace';

export function App() {
  createEffect(() => {
    document.documentElement.lang = htmlLang(locale());
    document.title = t('app.title');
  });

  return (
    <div class="app">
      <header class="app-header">
        <h1 class="brand">{t('app.title')}</h1>
        <div class="header-tools">
          <LocaleSwitch />
          <Show when={token()}>
            <AccountBar />
          </Show>
        </div>
      </header>
      <ErrorBoundary fallback={(error, reset) => <ErrorBanner error={error} onRetry={reset} />}>
        <Suspense fallback={<p class="muted">{t('common.loading')}</p>}>
          <Show when={token()} fallback={<AuthForm />}>
            <Workspace />
          </Show>
        </Suspense>
      </ErrorBoundary>
    </div>
  );
}
