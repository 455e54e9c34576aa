import { expect, test, type Locator, type Page } from '@playwright/test';
import {
  apiMessages,
  chatView,
  composer,
  forceErrorOnce,
  latestReply,
  messages,
  screenshot,
  send,
  signUp,
  snapshot,
  startChat,
  token,
  userMessages,
} from './support/app';
import { checkScreen, signUpThroughApi } from './support/screens';

// The conversation actions of issue 11 (specs/009-conversation-tree) in the browser, against the
// real backend: versions of a reply (‹ n/m ›) and the path the server keeps, edit and branch,
// continue, stop then regenerate, delete and fork.

const actions = (message: Locator): Locator => message.getByRole('group', { name: 'Message actions' });
const action = (message: Locator, name: string): Locator => actions(message).getByRole('button', { name, exact: true });
const version = (message: Locator, index: number, count: number): Locator =>
  message.getByRole('group', { name: `Version ${index} of ${count}` });
const idOf = async (message: Locator): Promise<string> => {
  const id = await message.getAttribute('data-message-id');
  if (!id) throw new Error('the message has no id yet');
  return id;
};

/** Signs up (through the API, as on any screen size) and opens the new-chat screen. */
async function begin(page: Page): Promise<void> {
  await page.goto('/');
  await signUpThroughApi(page, 'en');
  await page.goto('/new');
}

/** Sends a message from the composer and waits for its reply to finish. */
async function turn(page: Page, text: string): Promise<void> {
  await send(page, text);
  await expect(userMessages(page).last()).toContainText(text);
  await expect(latestReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
}

/** Regenerates the last reply and waits for the new version to finish. */
async function regenerate(page: Page): Promise<void> {
  const before = await idOf(latestReply(page));
  await action(latestReply(page), 'Regenerate').click();
  await expect(latestReply(page)).not.toHaveAttribute('data-message-id', before);
  await expect(latestReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
}

// The browser checks, on a wide screen and at a phone's width (390 px, where one screen
// shows at a time).
for (const screen of [
  { name: 'a wide screen', viewport: null },
  { name: 'a phone (390 px)', viewport: { width: 390, height: 844 } },
]) {
  test.describe(`on ${screen.name}`, () => {
    if (screen.viewport) test.use({ viewport: screen.viewport });

    test('three versions of a reply: ← and ‹ › move between them, and the one chosen stays after a reload', async ({
      page,
    }) => {
      test.setTimeout(120_000);
      await begin(page);
      const chatId = await startChat(page);
      await turn(page, 'Which way to the reef?');
      const first = await idOf(latestReply(page));
      await regenerate(page);
      const second = await idOf(latestReply(page));
      await expect(version(latestReply(page), 2, 2)).toBeVisible();
      await regenerate(page);
      const third = await idOf(latestReply(page));
      await expect(version(latestReply(page), 3, 3)).toBeVisible();
      // One question, one reply on screen: the other versions are behind ‹ ›.
      await expect(userMessages(page)).toHaveCount(1);
      await expect(messages(page)).toHaveCount(3);

      // ← with focus outside any text field.
      await page.locator('.chat-scroll').focus();
      await page.keyboard.press('ArrowLeft');
      await expect(latestReply(page)).toHaveAttribute('data-message-id', second);
      await expect(version(latestReply(page), 2, 3)).toBeVisible();
      await latestReply(page).getByRole('button', { name: 'Previous version' }).click();
      await expect(latestReply(page)).toHaveAttribute('data-message-id', first);
      await expect(version(latestReply(page), 1, 3)).toBeVisible();
      await expect(latestReply(page).getByRole('button', { name: 'Previous version' })).toBeDisabled();

      await page.reload();
      await expect(chatView(page)).toBeVisible();
      await expect(latestReply(page)).toHaveAttribute('data-message-id', first);
      await expect(version(latestReply(page), 1, 3)).toBeVisible();
      const stored = await apiMessages(page, chatId);
      expect(stored.map((message) => message.id)).not.toContain(third);
      expect(stored.at(-1)?.id).toBe(first);
    });

    test('edit a message in place, then switch back to the old branch', async ({ page }) => {
      test.setTimeout(120_000);
      await begin(page);
      const chatId = await startChat(page);
      await turn(page, 'Is the lighthouse lit?');
      const oldReply = await idOf(latestReply(page));
      const question = userMessages(page).last();

      await action(question, 'Edit').click();
      const editor = page.getByLabel('Edit your message', { exact: true });
      await expect(editor).toBeFocused();
      await editor.fill('Escape leaves this unsaved');
      await editor.press('Escape');
      await expect(editor).toHaveCount(0);
      await expect(question).toContainText('Is the lighthouse lit?');

      // ↑ in the empty composer opens the same editor.
      await composer(page).focus();
      await composer(page).press('ArrowUp');
      await expect(editor).toBeFocused();
      await editor.fill('Is the harbour open?');
      await page.getByRole('button', { name: 'Save and send', exact: true }).click();
      await expect(userMessages(page)).toHaveCount(1);
      await expect(userMessages(page).last()).toContainText('Is the harbour open?');
      await expect(latestReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
      await expect(latestReply(page)).not.toHaveAttribute('data-message-id', oldReply);
      await expect(version(userMessages(page).last(), 2, 2)).toBeVisible();

      await userMessages(page).last().getByRole('button', { name: 'Previous version' }).click();
      await expect(userMessages(page).last()).toContainText('Is the lighthouse lit?');
      await expect(latestReply(page)).toHaveAttribute('data-message-id', oldReply);
      await expect(version(userMessages(page).last(), 1, 2)).toBeVisible();

      await page.reload();
      await expect(userMessages(page).last()).toContainText('Is the lighthouse lit?');
      const stored = await apiMessages(page, chatId);
      expect(stored.map((message) => message.content)).toContain('Is the lighthouse lit?');
      expect(stored.map((message) => message.content)).not.toContain('Is the harbour open?');
    });

    test('a reply cut off at the length limit is marked, and Continue finishes it in the same message', async ({
      page,
    }) => {
      test.setTimeout(90_000);
      await begin(page);
      const chatId = await startChat(page);
      const fault = await forceErrorOnce(page, 'max_tokens');
      await send(page, 'Tell me the whole tale of the reef.');
      await fault.applied;
      const reply = latestReply(page);
      await expect(reply).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
      await expect(reply).toHaveAttribute('data-finish-reason', 'max_tokens');
      await expect(reply.getByText('Cut off', { exact: true })).toBeVisible();
      const id = await idOf(reply);
      const cut = (await snapshot(reply)).text;

      await action(reply, 'Continue').click();
      await expect(reply).toHaveAttribute('data-finish-reason', 'stop', { timeout: 20_000 });
      await expect(reply).toHaveAttribute('data-status', 'complete');
      await expect(reply).toHaveAttribute('data-message-id', id);
      await expect(reply.getByText('Cut off', { exact: true })).toHaveCount(0);
      const whole = (await snapshot(reply)).text;
      expect(whole.length).toBeGreaterThan(cut.length);

      const stored = await apiMessages(page, chatId);
      const replies = stored.filter((message) => message.role === 'assistant' && message.replyToId !== null);
      expect(replies.map((message) => message.id)).toEqual([id]);
      expect(replies[0]!.content.startsWith(cut.trim().slice(0, 20))).toBe(true);
    });

    test('Stop leaves Regenerate and Continue on the stopped reply; Regenerate puts a new version in its place', async ({
      page,
    }) => {
      test.setTimeout(90_000);
      await begin(page);
      const chatId = await startChat(page);
      await composer(page).fill('Tell me everything about the signal.');
      await composer(page).press('Enter');
      const reply = latestReply(page);
      await expect.poll(async () => (await snapshot(reply)).text.length, { timeout: 10_000 }).toBeGreaterThan(0);
      await page.getByRole('button', { name: 'Stop', exact: true }).click();
      await expect(reply).toHaveAttribute('data-status', 'cancelled');
      const stopped = await idOf(reply);
      await expect(action(reply, 'Regenerate')).toBeVisible();
      await expect(action(reply, 'Continue')).toBeVisible();

      await action(reply, 'Regenerate').click();
      await expect(latestReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
      await expect(latestReply(page)).not.toHaveAttribute('data-message-id', stopped);
      // The stopped reply is a version behind ‹ ›, not a second reply in the transcript.
      await expect(page.locator('ol.messages > li.message[data-status="cancelled"]')).toHaveCount(0);
      await expect(version(latestReply(page), 2, 2)).toBeVisible();
      const stored = await apiMessages(page, chatId);
      expect(stored.filter((message) => message.role === 'assistant').map((message) => message.status)).toEqual([
        'complete',
        'complete',
      ]);
    });

    test('delete removes a message and what follows it, after a confirmation', async ({ page }) => {
      test.setTimeout(90_000);
      await begin(page);
      const chatId = await startChat(page);
      await turn(page, 'First, the map.');
      await turn(page, 'Then, the compass.');
      await expect(userMessages(page)).toHaveCount(2);

      // The greeting cannot be deleted.
      await expect(action(messages(page).first(), 'Delete')).toHaveCount(0);

      let asked = '';
      page.once('dialog', (dialog) => {
        asked = dialog.message();
        void dialog.accept();
      });
      await action(userMessages(page).last(), 'Delete').click();
      await expect(userMessages(page)).toHaveCount(1);
      expect(asked).toContain('cannot be undone');
      await expect(userMessages(page).last()).toContainText('First, the map.');
      await expect(messages(page)).toHaveCount(3);

      const stored = await apiMessages(page, chatId);
      expect(stored.map((message) => message.content)).not.toContain('Then, the compass.');
      expect(stored).toHaveLength(3);
    });

    test('fork opens a new chat holding the conversation up to the message', async ({ page }) => {
      test.setTimeout(90_000);
      await begin(page);
      const chatId = await startChat(page);
      await turn(page, 'Where does the old road go?');
      const title = await chatView(page).locator('h2').innerText();
      const shown = await messages(page).locator('.message-content').allInnerTexts();

      await action(latestReply(page), 'Fork').click();
      await expect(page).not.toHaveURL(new RegExp(chatId));
      await expect(page).toHaveURL(/\/chats\/[0-9a-f-]{36}$/);
      await expect(chatView(page).locator('h2')).toHaveText(`${title} (fork)`);
      await expect(messages(page)).toHaveCount(shown.length);
      expect(await messages(page).locator('.message-content').allInnerTexts()).toEqual(shown);
      await expect(page.locator('.chat-list-item')).toHaveCount(2);
    });
  });
}

test('on a phone (390 px) the actions and ‹ n/m › fit, are reachable without hover, and pass axe', async ({ page }) => {
  test.setTimeout(120_000);
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/');
  await signUpThroughApi(page, 'en');
  await page.goto('/new');
  await startChat(page);
  await turn(page, 'A long question to see how the buttons wrap on a small screen, please.');
  await regenerate(page);
  const reply = latestReply(page);
  await expect(version(reply, 2, 2)).toBeVisible();
  for (const name of ['Copy', 'Regenerate', 'Fork', 'Delete']) await expect(action(reply, name)).toBeVisible();
  await checkScreen(page, 'chat with message actions');
  await screenshot(page, 'chat-actions-phone');

  await action(userMessages(page).last(), 'Edit').click();
  await expect(page.getByLabel('Edit your message', { exact: true })).toBeFocused();
  await checkScreen(page, 'editing a message');
  await screenshot(page, 'chat-edit-phone');
});

test.describe('on a touch screen', () => {
  test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });

  test('a tap on a message shows its actions (there is no hover); the last message shows them always', async ({
    page,
  }) => {
    test.setTimeout(90_000);
    await page.goto('/');
    await signUpThroughApi(page, 'en');
    await page.goto('/new');
    await startChat(page);
    expect(await page.evaluate(() => matchMedia('(hover: none)').matches)).toBe(true);
    await turn(page, 'Show me the buttons by touch.');
    const question = userMessages(page).last();
    await expect(action(latestReply(page), 'Regenerate')).toBeVisible();
    await expect(action(question, 'Edit')).toBeHidden();

    await question.locator('.message-content').tap();
    await expect(action(question, 'Edit')).toBeVisible();
    await action(question, 'Edit').tap();
    await expect(page.getByLabel('Edit your message', { exact: true })).toBeVisible();
  });
});

test('a version chosen and a message deleted in one browser show in another at once', async ({ browser }) => {
  test.setTimeout(120_000);
  const first = await (await browser.newContext()).newPage();
  const { email } = await signUp(first);
  await startChat(first);
  await turn(first, 'Which bell rang first?');
  const original = await idOf(latestReply(first));
  await regenerate(first);

  // The same account on another device, the chat open there.
  const second = await (await browser.newContext()).newPage();
  await second.goto('/');
  await second.getByLabel('Email').fill(email);
  await second.getByLabel('Password').fill('correct horse battery');
  await second.getByRole('button', { name: 'Sign in', exact: true }).click();
  await second.locator('.chat-list-item .chat-title').first().click();
  await expect(version(latestReply(second), 2, 2)).toBeVisible();

  await latestReply(first).getByRole('button', { name: 'Previous version' }).click();
  await expect(latestReply(first)).toHaveAttribute('data-message-id', original);
  await expect(latestReply(second)).toHaveAttribute('data-message-id', original);
  await expect(version(latestReply(second), 1, 2)).toBeVisible();

  first.once('dialog', (dialog) => void dialog.accept());
  await action(userMessages(first).last(), 'Delete').click();
  await expect(userMessages(first)).toHaveCount(0);
  await expect(userMessages(second)).toHaveCount(0);
  await expect(messages(second)).toHaveCount(1);
});

test('the chat list in another browser follows the path: a version chosen, a reply regenerated, a message deleted', async ({
  browser,
}) => {
  test.setTimeout(150_000);
  const first = await (await browser.newContext()).newPage();
  const { email } = await signUp(first);
  await startChat(first);
  await turn(first, 'Which bell rang first?');
  // An edit: a second version of the question, with its own reply (the demo answer quotes it).
  await action(userMessages(first).last(), 'Edit').click();
  await first.getByLabel('Edit your message', { exact: true }).fill('Which bell rang last?');
  await first.getByRole('button', { name: 'Save and send', exact: true }).click();
  await expect(version(userMessages(first).last(), 2, 2)).toBeVisible();
  await expect(latestReply(first)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
  // A newer chat, above it in the list.
  const created = await first.request.post('/api/v1/chats', {
    headers: { Authorization: `Bearer ${await token(first)}` },
    data: { characterId: 'captain-mira' },
  });
  expect(created.status()).toBe(201);

  // The same account on another device, on the chat list (the chat is not open there).
  const second = await (await browser.newContext()).newPage();
  await second.goto('/');
  await second.getByLabel('Email').fill(email);
  await second.getByLabel('Password').fill('correct horse battery');
  await second.getByRole('button', { name: 'Sign in', exact: true }).click();
  const listed = (page: Page) => page.locator('.chat-list-item').filter({ hasText: 'Which bell rang first' });
  const preview = (page: Page) => listed(page).locator('.chat-preview');
  const titles = (page: Page) => page.locator('.chat-list-item .chat-title').allInnerTexts();
  await expect(second.locator('.chat-list-item')).toHaveCount(2);
  const order = await titles(second);
  expect(order[1]).toContain('Which bell rang first');
  await expect(preview(second)).toContainText('rang last');

  // The first version chosen again: the preview is its reply; the chat keeps its place.
  await userMessages(first).last().getByRole('button', { name: 'Previous version' }).click();
  await expect(userMessages(first).last()).toContainText('Which bell rang first?');
  await expect(preview(second)).toContainText('rang first');
  await expect(preview(second)).toHaveText(await preview(first).innerText());
  expect(await titles(second)).toEqual(order);

  // A reply regenerated: the chat moves up.
  await regenerate(first);
  await expect.poll(() => titles(second)).toEqual([order[1], order[0]]);

  // That version of the question deleted: the path goes to the other one, and so does the preview.
  first.once('dialog', (dialog) => void dialog.accept());
  await action(userMessages(first).last(), 'Delete').click();
  await expect(userMessages(first).last()).toContainText('Which bell rang last?');
  await expect(preview(second)).toContainText('rang last');
  await expect(preview(second)).toHaveText(await preview(first).innerText());
});
