import { createResource, ErrorBoundary, Show, Suspense } from 'solid-js';
import { ErrorBanner } from '../components/error-banner';
import { formatNumber, t } from '../i18n/i18n';
import { accountVersion, liveBalance, signOut, token } from '../state/session';
import { fetchMe } from './auth.api';

/** Header part for a signed-in user: who they are, their token balance, and sign out. */
export function AccountBar() {
  // Reloaded when a turn changes the balance; the figure shown stays until the new one arrives.
  const [me, { refetch }] = createResource(
    () => token() && { token: token(), version: accountVersion() },
    () => fetchMe(),
  );

  return (
    <div class="account" role="group" aria-label={t('account.label')}>
      <ErrorBoundary
        fallback={(error, reset) => (
          <ErrorBanner
            error={error}
            onRetry={() => {
              void refetch();
              reset();
            }}
          />
        )}
      >
        <Suspense fallback={<span class="muted">{t('common.loading')}</span>}>
          <Show when={me.latest}>
            {(user) => (
              <span class="account-user">
                <span class="account-name">{user().displayName ?? user().email}</span>
                <span class="balance">
                  {t('account.balance', { count: formatNumber(liveBalance() ?? user().tokenBalance) })}
                </span>
              </span>
            )}
          </Show>
        </Suspense>
      </ErrorBoundary>
      <button type="button" onClick={() => signOut()}>
        {t('auth.signOut')}
      </button>
    </div>
  );
}
