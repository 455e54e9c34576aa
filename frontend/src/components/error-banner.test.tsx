import { fireEvent, render, screen } from '@solidjs/testing-library';
import type { Problem } from '@parley/api-types';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, NetworkError } from '@parley/client';
import { setLocale } from '../state/session';
import { problemFixture } from '../test-fixtures';
import { ErrorBanner } from './error-banner';

describe('ErrorBanner', () => {
  it("shows the problem's localized message, and no request id for a client error", () => {
    const problem = problemFixture({ message: '找不到该对话。', requestId: 'req-7f3a' });

    render(() => <ErrorBanner error={new ApiError(404, problem, problem.requestId)} />);

    const alert = screen.getByRole('alert');
    expect(alert.querySelector('.error-message')?.textContent).toBe('找不到该对话。');
    expect(alert.textContent).not.toContain('req-7f3a');
    expect(alert.querySelector('details')).toBeNull();
  });

  it('keeps the request id of a server failure inside a closed "details" disclosure', () => {
    const problem = problemFixture({ status: 500, code: 'internal_error', message: 'Boom.', requestId: 'req-500' });

    render(() => <ErrorBanner error={new ApiError(500, problem, problem.requestId)} />);

    const details = screen.getByRole('alert').querySelector('details');
    expect(details?.open).toBe(false);
    expect(details?.querySelector('summary')?.textContent).toBe('Details');
    expect(details?.querySelector('code')?.textContent).toBe('req-500');
  });

  it('lists no issues other than validation ones (no policy ids)', () => {
    const problem = problemFixture({
      status: 422,
      code: 'content_blocked',
      message: 'Blocked.',
      errors: [{ location: 'body', pointer: '/content', message: 'policy rule violence-3' }],
    });

    render(() => <ErrorBanner error={new ApiError(422, problem, problem.requestId)} />);

    expect(screen.getByRole('alert').textContent).not.toContain('violence-3');
  });

  it('lists validation issues', () => {
    const problem = problemFixture({
      status: 400,
      code: 'validation_failed',
      message: 'The request is invalid.',
      errors: [{ location: 'body', pointer: '/title', message: 'Title is too long.' }],
    });

    render(() => <ErrorBanner error={new ApiError(400, problem, problem.requestId)} />);

    expect(screen.getByText('Title is too long.')).toBeTruthy();
  });

  it('shows a localized status message when the response had no problem body', () => {
    setLocale('zh');

    render(() => <ErrorBanner error={new ApiError(502, null, 'req-502')} />);

    expect(screen.getByRole('alert').textContent).toContain('服务器无法完成请求（HTTP 502）');
    expect(screen.getByText('req-502')).toBeTruthy();
  });

  it('shows a generic message and no request id for other errors', () => {
    render(() => <ErrorBanner error={new TypeError('Failed to fetch')} />);

    const alert = screen.getByRole('alert');
    expect(alert.textContent).toContain('Something went wrong');
    expect(alert.querySelector('code')).toBeNull();
  });

  it('offers a retry when given one', () => {
    let retries = 0;
    render(() => <ErrorBanner error={new Error('x')} onRetry={() => retries++} />);

    fireEvent.click(screen.getByRole('button', { name: 'Try again' }));

    expect(retries).toBe(1);
  });

  const apiError = (overrides: Partial<Problem>) => {
    const problem = problemFixture({ message: 'server words', ...overrides });
    return new ApiError(problem.status, problem, problem.requestId);
  };
  const shown = () => ({
    code: screen.getByRole('alert').getAttribute('data-code'),
    message: screen.getByRole('alert').querySelector('.error-message')?.textContent,
    buttons: screen.queryAllByRole('button').map((b) => b.textContent),
  });

  afterEach(() => vi.useRealTimers());

  it.each([
    ['rate_limited', 429, true, 'You are sending messages too quickly. Wait a moment, then try again.'],
    ['provider_unavailable', 503, true, 'The AI service did not answer. Your message is saved; try again.'],
    ['turn_timeout', 504, true, 'The reply took too long and was stopped. Try again.'],
    ['content_blocked', 422, false, 'This message was blocked by the content policy. Rephrase it and send again.'],
    ['insufficient_tokens', 402, false, 'You are out of tokens, so no reply can be generated.'],
  ] as const)(
    'says what %s means in the UI’s words and offers a retry only when it can help',
    (code, status, retry, text) => {
      render(() => <ErrorBanner error={apiError({ code, status, retryable: retry })} onRetry={() => {}} />);

      expect(shown().code).toBe(code);
      expect(shown().message).toBe(text);
      expect(shown().buttons.includes('Try again')).toBe(retry);
    },
  );

  it('speaks Chinese when the UI does, for the same code', () => {
    setLocale('zh');
    render(() => <ErrorBanner error={apiError({ code: 'provider_unavailable', status: 503 })} onRetry={() => {}} />);

    expect(shown().message).toBe('AI 服务没有响应。你的消息已保存，请重试。');
    expect(shown().buttons).toContain('重试');
  });

  it('names a lost connection', () => {
    render(() => <ErrorBanner error={new NetworkError('Failed to fetch')} onRetry={() => {}} />);

    expect(shown().code).toBe('network');
    expect(shown().message).toContain('The connection was lost');
  });

  it('counts an open breaker down from Retry-After and enables "Try again" at zero', async () => {
    vi.useFakeTimers();
    const onRetry = vi.fn();
    const error = apiError({ code: 'breaker_open', status: 503, retryable: true, retryAfterSeconds: 3 });
    render(() => <ErrorBanner error={error} onRetry={onRetry} />);

    const retry = screen.getByRole<HTMLButtonElement>('button', { name: 'Try again' });
    expect(screen.getByTestId('retry-countdown').textContent).toBe('You can try again in 3 s.');
    expect(retry.disabled).toBe(true);

    await vi.advanceTimersByTimeAsync(1100);
    expect(screen.getByTestId('retry-countdown').textContent).toBe('You can try again in 2 s.');
    await vi.advanceTimersByTimeAsync(2000);
    expect(screen.queryByTestId('retry-countdown')).toBeNull();
    expect(retry.disabled).toBe(false);
    fireEvent.click(retry);
    expect(onRetry).toHaveBeenCalledTimes(1);
  });

  it('offers reloading the conversation and copies the request id to report it', async () => {
    const writeText = vi.fn(async () => undefined);
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    const onReload = vi.fn();
    render(() => (
      <ErrorBanner error={apiError({ code: 'internal_error', status: 500, requestId: 'req-42' })} onReload={onReload} />
    ));

    fireEvent.click(screen.getByRole('button', { name: 'Reload conversation' }));
    expect(onReload).toHaveBeenCalledTimes(1);
    fireEvent.click(screen.getByRole('button', { name: 'Copy request ID' }));
    expect(writeText).toHaveBeenCalledWith('req-42');
    expect(await screen.findByRole('button', { name: 'Copied' })).toBeTruthy();
  });
});
