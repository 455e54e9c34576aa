import { expect, test } from '@playwright/test';
import {
  latestReply,
  errorBanner,
  forceErrorOnce,
  messages,
  screenshot,
  secondsIn,
  send,
  signUp,
  startChat,
  turnFromApi,
  typingIndicator,
  userMessages,
} from './support/app';

const HAN = /\p{Script=Han}/u;

test('a provider failure shows the banner; Try again succeeds without a duplicate message', async ({ page }) => {
  await signUp(page);
  const chatId = await startChat(page);
  const text = 'Hail the ice moon.';
  const fault = await forceErrorOnce(page, 'provider_503');
  await send(page, text);
  await fault.applied;

  const banner = errorBanner(page);
  await expect(banner).toBeVisible({ timeout: 15_000 });
  await expect(banner).toHaveAttribute('role', 'alert');
  await expect(banner).toHaveAttribute('data-code', 'provider_unavailable');
  await expect(banner.locator('.error-message')).toHaveText(/[a-z]{3}/i);
  await expect(banner.locator('.error-message')).not.toHaveText(HAN);
  await expect(banner.getByRole('button', { name: 'Reload conversation' })).toBeVisible();
  // The request id is there to report a server failure, behind a disclosure.
  await expect(banner.getByRole('button', { name: 'Copy request ID' })).toBeHidden();
  await banner.getByText('Details', { exact: true }).click();
  await expect(banner.getByRole('button', { name: 'Copy request ID' })).toBeVisible();
  await expect(typingIndicator(page)).toBeHidden();
  // The conversation stays on screen through the error.
  await expect(messages(page).first()).toBeVisible();
  await expect(userMessages(page)).toHaveCount(1);
  await screenshot(page, 'error-banner');

  await banner.getByRole('button', { name: 'Try again' }).click();
  await expect(banner).toBeHidden();
  await expect(latestReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 15_000 });
  await expect(latestReply(page).locator('.message-content')).not.toBeEmpty();
  await expect(userMessages(page)).toHaveCount(1);
  await expect(userMessages(page).locator('.message-content')).toHaveText(text);
  // The failed attempt is a version behind ‹ 2/2 ›, no longer a message of the transcript.
  await expect(page.locator('ol.messages > li.message[data-status="failed"]')).toHaveCount(0);
  await expect(latestReply(page).getByRole('group', { name: 'Version 2 of 2' })).toBeVisible();
  await page.reload();
  await expect(latestReply(page)).toHaveAttribute('data-status', 'complete');
  await expect(page.locator('ol.messages > li.message[data-status="failed"]')).toHaveCount(0);

  // The server agrees: one user message, its latest reply complete.
  await expect.poll(async () => (await turnFromApi(page, chatId, text)).replies.at(-1)?.status).toBe('complete');
  expect((await turnFromApi(page, chatId, text)).users).toHaveLength(1);
});

test('an open breaker shows a live countdown, then Try again succeeds', async ({ page }) => {
  await signUp(page);
  const chatId = await startChat(page);
  const text = 'Is the shuttle ready?';
  const fault = await forceErrorOnce(page, 'breaker');
  await send(page, text);
  await fault.applied;

  const banner = errorBanner(page);
  await expect(banner).toHaveAttribute('data-code', 'breaker_open');
  const countdown = banner.getByTestId('retry-countdown');
  const retry = banner.getByRole('button', { name: 'Try again' });
  await expect(countdown).toHaveText(/\d/);
  const start = secondsIn(await countdown.textContent());
  expect(start).toBeGreaterThan(0);
  await expect(retry).toBeDisabled();
  await screenshot(page, 'breaker-countdown');
  await expect.poll(async () => secondsIn(await countdown.textContent()), { timeout: 5_000 }).toBeLessThan(start);

  await expect(retry).toBeEnabled({ timeout: (start + 3) * 1000 });
  await retry.click();
  await expect(banner).toBeHidden();
  await expect(latestReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 15_000 });
  await expect(userMessages(page)).toHaveCount(1);
  await expect(userMessages(page).locator('.message-content')).toHaveText(text);

  // The server agrees: one user message, its latest reply complete.
  await expect.poll(async () => (await turnFromApi(page, chatId, text)).replies.at(-1)?.status).toBe('complete');
  expect((await turnFromApi(page, chatId, text)).users).toHaveLength(1);
});

test('a timeout clears the typing indicator and says so', async ({ page }) => {
  await signUp(page);
  await startChat(page);
  const fault = await forceErrorOnce(page, 'timeout');
  await send(page, 'Anyone there?');
  await fault.applied;

  const banner = errorBanner(page);
  await expect(banner).toHaveAttribute('data-code', 'turn_timeout', { timeout: 15_000 });
  await expect(typingIndicator(page)).toBeHidden({ timeout: 500 });
  await expect(banner.locator('.error-message')).not.toBeEmpty();
  await expect(banner.getByRole('button', { name: 'Try again' })).toBeEnabled();
  await expect(userMessages(page)).toHaveCount(1);
  await screenshot(page, 'timeout-banner');
});

test('after 30 s without an answer the typing indicator turns into a timeout message', async ({ page }) => {
  await page.clock.install();
  await signUp(page);
  await startChat(page);
  // The send never gets an answer: hold the request until the page closes.
  await page.route('**/api/v1/chats/*/messages/stream', (route) =>
    route.request().method() === 'POST' ? new Promise<void>(() => undefined) : route.fallback(),
  );
  await send(page, 'Hello?');
  await expect(typingIndicator(page)).toBeVisible();
  await expect(page.getByTestId('typing-timeout')).toHaveCount(0);
  await page.clock.fastForward('00:31');
  await expect(page.getByTestId('typing-timeout')).toBeVisible();
  await screenshot(page, 'typing-timeout');
});
