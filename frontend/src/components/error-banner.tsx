import { createEffect, createMemo, createSignal, For, on, onCleanup, Show } from 'solid-js';
import { ApiError } from '@parley/client';
import { t } from '../i18n/i18n';
import { describeError } from './error-info';

interface ErrorBannerProps {
  error: unknown;
  /** Try the failed action again; offered when retrying can help. */
  onRetry?: () => void;
  /** Reload what is on screen from the server. */
  onReload?: () => void;
}

/**
 * Says what failed, in the user's language, chosen by the error's code; counts down `Retry-After`
 * before "Try again" is enabled; offers reloading and copying the request id to report it.
 */
export function ErrorBanner(props: ErrorBannerProps) {
  const info = createMemo(() => describeError(props.error));
  const message = () => {
    const current = info();
    if (current.messageKey) return t(current.messageKey);
    if (current.serverMessage) return current.serverMessage;
    return current.status ? t('errors.http', { status: current.status }) : t('errors.unexpected');
  };
  // Only a form's own field problems are listed; other details (a policy rule, …) are internal.
  const issues = () =>
    props.error instanceof ApiError && info().code === 'validation_failed' ? (props.error.problem?.errors ?? []) : [];
  // A request id helps only where there is something to report: the server failed (5xx). A
  // wrong password or a blocked message needs no report.
  const reportable = () => {
    const current = info();
    return current.requestId !== null && (current.status === null || current.status >= 500) ? current.requestId : null;
  };

  // Seconds left before a retry can succeed, counted down once per second.
  const [remaining, setRemaining] = createSignal(0);
  createEffect(
    on(info, (current) => {
      const until = Date.now() + (current.retryAfterSeconds ?? 0) * 1000;
      const tick = () => setRemaining(Math.max(0, Math.ceil((until - Date.now()) / 1000)));
      tick();
      if (remaining() === 0) return;
      const timer = setInterval(() => {
        tick();
        if (remaining() === 0) clearInterval(timer);
      }, 250);
      onCleanup(() => clearInterval(timer));
    }),
  );

  const [copied, setCopied] = createSignal(false);
  const copyRequestId = async (requestId: string) => {
    try {
      await navigator.clipboard.writeText(requestId);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      // No clipboard access (plain http, permissions): the id stays selectable on screen.
      window.getSelection()?.selectAllChildren(document.getElementById(`request-id-${requestId}`) ?? document.body);
    }
  };

  return (
    <div class="error-banner" role="alert" data-testid="error-banner" data-code={info().code}>
      <p class="error-message">{message()}</p>
      <Show when={issues().length > 0}>
        <ul class="error-issues">
          <For each={issues()}>{(issue) => <li>{issue.message}</li>}</For>
        </ul>
      </Show>
      <Show when={remaining() > 0 && props.onRetry && info().retryable}>
        <p class="retry-countdown" data-testid="retry-countdown" aria-live="off">
          {t('errors.retryIn', { seconds: remaining() })}
        </p>
      </Show>
      <div class="error-actions">
        <Show when={props.onRetry && info().retryable}>
          <button type="button" class="primary small" disabled={remaining() > 0} onClick={() => props.onRetry?.()}>
            {t('common.retry')}
          </button>
        </Show>
        <Show when={props.onReload}>
          <button type="button" class="small" onClick={() => props.onReload?.()}>
            {t('errors.reload')}
          </button>
        </Show>
      </div>
      <Show when={reportable()}>
        {(requestId) => (
          <details class="error-details">
            <summary>{t('errors.details')}</summary>
            <p class="error-request-id">
              {t('errors.requestId')}: <code id={`request-id-${requestId()}`}>{requestId()}</code>
            </p>
            <button type="button" class="small" onClick={() => void copyRequestId(requestId())}>
              {copied() ? t('errors.copied') : t('errors.report')}
            </button>
          </details>
        )}
      </Show>
    </div>
  );
}
