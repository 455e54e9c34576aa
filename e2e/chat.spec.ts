import { expect, test } from '@playwright/test';
import {
  assistantMessages,
  composer,
  screenshot,
  signUp,
  snapshot,
  startChat,
  turnFromApi,
  typingIndicator,
  userMessages,
} from './support/app';

test('sign up and chat: the reply streams in, then completes', async ({ page }) => {
  await signUp(page, { screenshotAs: 'sign-up' });
  await expect(page.locator('.balance')).toHaveText(/^[\d,.\s]+ tokens$/);
  const chatId = await startChat(page);
  await expect(assistantMessages(page)).toHaveCount(1); // the character's greeting

  // Shift+Enter breaks the line; Enter sends.
  const input = composer(page);
  await input.click();
  await input.pressSequentially('Where is the signal');
  await input.press('Shift+Enter');
  await input.pressSequentially('coming from?');
  await expect(input).toHaveValue('Where is the signal\ncoming from?');
  await input.press('Enter');

  await expect(typingIndicator(page)).toBeVisible();
  await expect(userMessages(page)).toHaveCount(1);
  await expect(userMessages(page).locator('.message-content')).toContainText('coming from?');
  await expect(input).toHaveValue('');

  // The reply grows while it streams: read it at two moments.
  const reply = assistantMessages(page).nth(1);
  await expect.poll(async () => (await snapshot(reply)).text.length, { timeout: 10_000 }).toBeGreaterThan(0);
  const first = await snapshot(reply);
  expect(first.status).toBe('streaming');
  await screenshot(page, 'chat-streaming');
  await expect.poll(async () => (await snapshot(reply)).text.length).toBeGreaterThan(first.text.length);
  const second = await snapshot(reply);
  expect(second.status).toBe('streaming');

  await expect(reply).toHaveAttribute('data-status', 'complete', { timeout: 15_000 });
  await expect(typingIndicator(page)).toBeHidden();
  await expect(reply.locator('.demo-marker')).toBeVisible();
  const final = (await snapshot(reply)).text;
  expect(final.length).toBeGreaterThan(second.text.length);
  await screenshot(page, 'chat-reply');

  const { users, replies } = await turnFromApi(page, chatId, 'Where is the signal\ncoming from?');
  expect(users).toHaveLength(1);
  expect(replies.map((message) => message.status)).toEqual(['complete']);
  await expect(page.locator('.chat-list-item').first().locator('.chat-preview')).not.toBeEmpty();
});

test('Stop ends a reply mid-stream and keeps the partial text, marked as stopped', async ({ page }) => {
  await signUp(page);
  const chatId = await startChat(page);
  await composer(page).fill('Tell me everything about the signal.');
  await composer(page).press('Enter');
  const reply = assistantMessages(page).nth(1);
  await expect.poll(async () => (await snapshot(reply)).text.length, { timeout: 10_000 }).toBeGreaterThan(0);

  await page.getByRole('button', { name: 'Stop', exact: true }).click();
  await expect(reply).toHaveAttribute('data-status', 'cancelled');
  await expect(typingIndicator(page)).toBeHidden();
  const partial = (await snapshot(reply)).text;
  expect(partial.length).toBeGreaterThan(0);
  await expect(page.getByRole('button', { name: 'Stop', exact: true })).toHaveCount(0);

  const { replies } = await turnFromApi(page, chatId, 'Tell me everything about the signal.');
  expect(replies).toHaveLength(1);
  expect(replies[0]!.status).toBe('cancelled');
});
