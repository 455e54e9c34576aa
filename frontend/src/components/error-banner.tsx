import { For, Show } from 'solid-js';
import { ApiError } from '../api/problem';
import { t } from '../i18n/i18n';

interface ErrorBannerProps {
  error: unknown;
  onRetry?: () => void;
}

/** Shows a failed call: the server's localized problem message and the request id to quote. */
export function ErrorBanner(props: ErrorBannerProps) {
  const apiError = () => (props.error instanceof ApiError ? props.error : null);
  const message = () => {
    const error = apiError();
    if (!error) return t('errors.unexpected');
    return error.problem?.message ?? t('errors.http', { status: error.status });
  };
  const issues = () => apiError()?.problem?.errors ?? [];

  return (
    <div class="error-banner" role="alert">
      <p class="error-message">{message()}</p>
      <Show when={issues().length > 0}>
        <ul class="error-issues">
          <For each={issues()}>{(issue) => <li>{issue.message}</li>}</For>
        </ul>
      </Show>
      <Show when={apiError()?.requestId}>
        {(requestId) => (
          <p class="error-request-id">
            {t('errors.requestId')}: <code>{requestId()}</code>
          </p>
        )}
      </Show>
      <Show when={props.onRetry}>
        <button type="button" onClick={() => props.onRetry?.()}>
          {t('common.retry')}
        </button>
      </Show>
    </div>
  );
}
