import { expect, test } from '@playwright/test';
import {
  assistantMessages,
  composer,
  screenshot,
  send,
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

test('the chat list moves a chat to the top the moment a message is sent, and rolls back when the send is refused', async ({
  page,
}) => {
  await signUp(page);
  await startChat(page);
  await page.getByRole('link', { name: 'New chat' }).click();
  await startChat(page);
  const items = page.locator('.chat-list-item');
  await expect(items).toHaveCount(2);
  // Open the older chat (second in the list) and hold its send until the list has been checked.
  await items.nth(1).locator('.chat-title').click();
  const before = await items.locator('.chat-preview').allInnerTexts();
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route('**/api/v1/chats/*/messages/stream', async (route) => {
    if (route.request().method() !== 'POST') return route.fallback();
    await held;
    // What a server in trouble answers before storing anything.
    await route.fulfill({
      status: 503,
      contentType: 'application/problem+json',
      headers: { 'Retry-After': '1' },
      body: JSON.stringify({
        type: 'https://parley.example/problems/database_unavailable',
        title: 'Database unavailable',
        status: 503,
        code: 'database_unavailable',
        messageKey: 'errors.database_unavailable',
        message: 'The database is unavailable.',
        retryable: true,
        retryAfterSeconds: 1,
        breakerState: null,
        requestId: 'req-held',
      }),
    });
  });

  await send(page, 'Moving up?');

  // Before any answer (the request is held): the chat is first, previewing the message.
  await expect(items.first().locator('.chat-preview')).toHaveText('Moving up?');
  release();
  await expect(page.getByTestId('error-banner')).toHaveAttribute('data-code', 'database_unavailable');
  // Refused: the list is as it was, and the message stays on screen, not sent.
  await expect(items.locator('.chat-preview')).toHaveText(before);
  await expect(userMessages(page).last()).toHaveAttribute('data-status', 'failed');
  await expect(userMessages(page).last().locator('.message-content')).toHaveText('Moving up?');
});

test('a double click on Send sends the message once and lets the reply finish', async ({ page }) => {
  await signUp(page);
  const chatId = await startChat(page);
  await composer(page).fill('Just once, please.');

  await page.getByRole('button', { name: 'Send', exact: true }).dblclick();

  const reply = assistantMessages(page).nth(1);
  await expect(reply).toHaveAttribute('data-status', 'complete', { timeout: 15_000 });
  await expect(userMessages(page)).toHaveCount(1);
  const { users, replies } = await turnFromApi(page, chatId, 'Just once, please.');
  expect(users).toHaveLength(1);
  expect(replies.map((message) => message.status)).toEqual(['complete']);
});
