import { fireEvent, render, screen } from '@solidjs/testing-library';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/problem';
import { setLocale } from '../state/session';
import { problemFixture } from '../test-fixtures';
import { ErrorBanner } from './error-banner';

describe('ErrorBanner', () => {
  it("shows the problem's localized message and request id", () => {
    const problem = problemFixture({ message: '找不到该对话。', requestId: 'req-7f3a' });

    render(() => <ErrorBanner error={new ApiError(404, problem, problem.requestId)} />);

    const alert = screen.getByRole('alert');
    expect(alert.querySelector('.error-message')?.textContent).toBe('找不到该对话。');
    expect(alert.querySelector('code')?.textContent).toBe('req-7f3a');
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
});
