import { expect, test } from '@playwright/test';
import {
  apiMessages,
  assistantMessages,
  messages,
  openChatFromSidebar,
  send,
  signUp,
  snapshot,
  startChat,
  turnFromApi,
  userMessages,
} from './support/app';

test('closing the page mid-reply and coming back shows the reply finishing or finished, once', async ({
  page,
  context,
}) => {
  await signUp(page);
  const chatId = await startChat(page);
  const text = 'Tell me about the ice moon.';
  await send(page, text);
  const reply = assistantMessages(page).nth(1);
  await expect.poll(async () => (await snapshot(reply)).text.length, { timeout: 10_000 }).toBeGreaterThan(0);
  expect((await snapshot(reply)).status).toBe('streaming');
  await page.close();

  // Leaving is not a stop: the reply carries on without the page.
  const again = await context.newPage();
  await again.goto('/');
  const { replies: meanwhile } = await turnFromApi(again, chatId, text);
  expect(meanwhile).toHaveLength(1);
  expect(['pending', 'streaming', 'complete']).toContain(meanwhile[0]!.status);

  await openChatFromSidebar(again);
  const user = userMessages(again);
  await expect(user).toHaveCount(1);
  await expect(user.locator('.message-content')).toHaveText(text);
  const replyAgain = assistantMessages(again).nth(1);
  await expect(replyAgain).toHaveAttribute('data-status', 'complete', { timeout: 15_000 });
  await expect(assistantMessages(again)).toHaveCount(2); // the greeting and one reply
  await expect(messages(again)).toHaveCount(3);

  const { users, replies } = await turnFromApi(again, chatId, text);
  expect(users).toHaveLength(1);
  expect(replies).toHaveLength(1);
  expect(replies[0]!.status).toBe('complete');
  await expect(replyAgain.locator('.message-content')).toHaveText(replies[0]!.content);
  expect((await apiMessages(again, chatId)).length).toBe(3);
});
