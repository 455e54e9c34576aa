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

test('a stream cut mid-reply is re-attached from the last event received, without repeating text', async ({ page }) => {
  await signUp(page);
  const chatId = await startChat(page);
  // The send's answer arrives cut after its second delta, as when a connection drops.
  let lastReceived = '';
  await page.route(
    '**/api/v1/chats/*/messages/stream',
    async (route) => {
      const response = await route.fetch();
      const events = (await response.text()).split('\n\n');
      const deltas = events.flatMap((event, at) => (/^event: delta$/m.test(event) ? [at] : []));
      const kept = events.slice(0, (deltas[1] ?? events.length) + 1);
      lastReceived = /^id: (.+)$/m.exec(kept.at(-1) ?? '')?.[1] ?? '';
      await route.fulfill({ response, body: `${kept.join('\n\n')}\n\n` });
    },
    { times: 1 },
  );
  const followed = page.waitForRequest((request) => /\/messages\/[^/]+\/stream$/.test(new URL(request.url()).pathname));
  const text = 'What is under the ice?';
  await send(page, text);

  const follow = await followed;
  expect(lastReceived).toMatch(/\S/);
  expect(follow.method()).toBe('GET');
  expect(await follow.headerValue('last-event-id')).toBe(lastReceived);
  const reply = assistantMessages(page).nth(1);
  await expect(reply).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
  const { users, replies } = await turnFromApi(page, chatId, text);
  expect(users).toHaveLength(1);
  expect(replies).toHaveLength(1);
  await expect(reply.locator('.message-content')).toHaveText(replies[0]!.content);
});
