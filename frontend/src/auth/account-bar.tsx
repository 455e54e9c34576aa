import { A } from '@solidjs/router';
import { createResource, ErrorBoundary, Show, Suspense } from 'solid-js';
import { formatNumber, t } from '../i18n/i18n';
import { paths } from '../routes';
import { accountVersion, liveBalance, signOut, token } from '../state/session';
import { fetchMe } from './auth.api';

/**
 * Header part for a signed-in user: who they are, their token balance, settings and sign out.
 * A failed refresh shows a small retry in place of the figures; the rest stays usable.
 */
export function AccountBar() {
  // Reloaded when a turn changes the balance; the figure shown stays until the new one arrives.
  const [me, { refetch }] = createResource(
    () => token() && { token: token(), version: accountVersion() },
    () => fetchMe(),
  );

  return (
    <div class="account" role="group" aria-label={t('account.label')}>
      <ErrorBoundary
        fallback={(_error, reset) => (
          <span class="account-user account-error" data-testid="account-error">
            <span class="muted">{t('account.unavailable')}</span>
            <button
              type="button"
              class="small"
              onClick={() => {
                void refetch();
                reset();
              }}
            >
              {t('common.retry')}
            </button>
          </span>
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
      <A href={paths.settings} class="button small settings-link">
        {t('settings.open')}
      </A>
      <button type="button" class="small sign-out" onClick={() => signOut()}>
        {t('auth.signOut')}
      </button>
    </div>
  );
}
