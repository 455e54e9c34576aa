import { expect, test, type Page } from '@playwright/test';
import {
  assistantMessages,
  chatView,
  send,
  signUp,
  snapshot,
  startChat,
  turnFromApi,
  userMessages,
} from './support/app';

/** Signs in to an existing account through the form (another browser, same account). */
async function signIn(page: Page, email: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
}

// Two browser contexts (two devices, say) signed in to the same account, each with its own
// realtime socket: what one does, the other shows as it happens, without reloading.
test('a reply sent in one page streams in the other, and a rename shows there too', async ({ browser }) => {
  const first = await (await browser.newContext()).newPage();
  const { email } = await signUp(first);
  const chatId = await startChat(first);
  const second = await (await browser.newContext()).newPage();
  await signIn(second, email);
  await second.locator('.chat-list-item .chat-title').first().click();
  await expect(chatView(second)).toBeVisible();
  // The second page's socket is up (the balance shown is the live one once events flow).
  await expect(assistantMessages(second)).toHaveCount(1);

  const text = 'What lies under the ice moon?';
  await send(first, text);
  const user = userMessages(second);
  await expect(user).toHaveCount(1);
  await expect(user.locator('.message-content')).toHaveText(text);
  const reply = assistantMessages(second).nth(1);
  // The reply grows in the second page while it is being written (the demo pace is slow).
  await expect.poll(async () => (await snapshot(reply)).text.length, { timeout: 15_000 }).toBeGreaterThan(0);
  const early = await snapshot(reply);
  expect(early.status).toBe('streaming');
  await expect(reply).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
  const { replies } = await turnFromApi(second, chatId, text);
  expect(replies).toHaveLength(1);
  await expect(reply.locator('.message-content')).toHaveText(replies[0]!.content);
  expect(replies[0]!.content.length).toBeGreaterThan(early.text.length);

  await first
    .getByRole('button', { name: /^Rename / })
    .first()
    .click();
  await first.getByLabel('Chat title').fill('Named in the first page');
  await first.getByRole('button', { name: 'Save' }).click();
  await expect(second.locator('.chat-list-item .chat-title').first()).toHaveText('Named in the first page');
});
