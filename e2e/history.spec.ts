import { expect, test } from '@playwright/test';
import {
  chatView,
  latestReply,
  apiMessages,
  apiSend,
  messages,
  openChatFromSidebar,
  screenshot,
  send,
  signUp,
  startChat,
  userMessages,
} from './support/app';

test('history survives a page reload', async ({ page }) => {
  await signUp(page);
  const chatId = await startChat(page);
  await send(page, 'Where is the signal coming from?');
  await expect(latestReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
  const before = await messages(page).locator('.message-content').allInnerTexts();
  expect(before).toHaveLength(3); // greeting, the user's message, the reply

  // The open chat is kept in the address: the reload reopens it.
  expect(new URL(page.url()).pathname).toBe(`/chats/${chatId}`);
  await page.reload();
  await expect(chatView(page)).toBeVisible();
  await expect(messages(page)).toHaveCount(3);
  expect(await messages(page).locator('.message-content').allInnerTexts()).toEqual(before);
  await expect(userMessages(page)).toHaveCount(1);
  await expect(latestReply(page)).toHaveAttribute('data-status', 'complete');
  expect((await apiMessages(page, chatId)).map((message) => message.content)).toEqual(before);
});

test('a conversation held elsewhere is shown in full after a reload', async ({ page }) => {
  await signUp(page);
  const chatId = await startChat(page);
  // Sent through the API (another tab or device): the page learns of it from the server only.
  await apiSend(page, chatId, 'Can we trace the signal?');
  const stored = await apiMessages(page, chatId);
  expect(stored.map((message) => message.role)).toEqual(['assistant', 'user', 'assistant']);

  await page.reload();
  await expect(page.locator('.chat-list-item .chat-preview').first()).toHaveText(stored[2]!.content);
  await openChatFromSidebar(page);
  await expect(messages(page).locator('.message-content')).toHaveText(stored.map((message) => message.content));
  await screenshot(page, 'history-after-reload');
});
