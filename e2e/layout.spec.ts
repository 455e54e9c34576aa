import { expect, test } from '@playwright/test';
import { apiSend, assistantMessages, chatView, latestReply, messages, token, userMessages } from './support/app';
import { checkScreen, openNewChat, signUpThroughApi, widths } from './support/screens';
import { screenshot } from './support/app';

// Long words and sentences, the kind that once pushed the chat list ~1,400 px wide on a phone.
const longText = {
  en: `Where is the signal coming from? ${'Supercalifragilisticexpialidocious'.repeat(6)} and https://example.test/${'a'.repeat(120)}`,
  zh: `信号从哪里来？${'这是一段没有空格的很长很长的中文句子'.repeat(12)}`,
};

for (const locale of ['en', 'zh'] as const) {
  for (const size of widths) {
    test(`every screen fits and passes axe at ${size.width} px in ${locale}`, async ({ page }) => {
      test.setTimeout(120_000);
      await page.setViewportSize({ width: size.width, height: size.height });
      await page.addInitScript((value) => localStorage.setItem('parley.locale', value), locale);

      await page.goto('/');
      await expect(page.locator('form.auth, .auth')).toBeVisible();
      await checkScreen(page, 'sign-in');

      await signUpThroughApi(page, locale);
      await page.goto('/');
      await expect(page.locator('.balance')).toBeVisible();
      await checkScreen(page, 'home');

      await page.goto('/new');
      const start = page.locator('.character-card button').first();
      await expect(start).toBeVisible();
      await checkScreen(page, 'new chat');

      await start.click();
      await expect(chatView(page)).toBeVisible();
      await page.locator('.composer textarea').fill(longText[locale]);
      await page.locator('.composer button[type="submit"]').click();
      await expect(userMessages(page)).toHaveCount(1);
      await expect(latestReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
      // The new message and the reply are on screen, not below the fold.
      await expect(latestReply(page)).toBeInViewport();
      await checkScreen(page, 'chat');
      await screenshot(page, `chat-${size.name}-${locale}`);

      // The list, with the long message as a preview (on a phone, a screen of its own).
      await page.goto('/');
      await expect(page.locator('.chat-list-item .chat-preview').first()).toContainText(longText[locale].slice(0, 8));
      await checkScreen(page, 'chat list');
      await screenshot(page, `list-${size.name}-${locale}`);

      await page.goto('/settings');
      await expect(page.locator('.settings h2')).toBeVisible();
      await checkScreen(page, 'settings');
    });
  }
}

test('on a phone the list, the picker and a chat are screens of their own, with Back and Forward', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/');
  await signUpThroughApi(page, 'en');
  await page.goto('/');
  const list = page.locator('.sidebar');
  await expect(list).toBeVisible();
  await expect(page.locator('.main')).toBeHidden();

  await page.getByRole('link', { name: 'New chat' }).click();
  await expect(page).toHaveURL(/\/new$/);
  await expect(list).toBeHidden();
  await page.locator('.character-card button').first().click();
  await expect(chatView(page)).toBeVisible();
  await expect(page).toHaveURL(/\/chats\/[0-9a-f-]{36}$/);
  const chatUrl = page.url();

  await page.getByRole('button', { name: 'All chats' }).click();
  await expect(list).toBeVisible();
  await expect(chatView(page)).toHaveCount(0);
  await page.goBack();
  await expect(page).toHaveURL(chatUrl);
  await expect(chatView(page)).toBeVisible();
  await expect(list).toBeHidden();

  // The header is one compact row.
  const header = await page.locator('.app-header').boundingBox();
  expect(header?.height).toBeLessThanOrEqual(64);
});

test('the header and the composer stay put; sending while scrolled up shows the new message; Jump to latest', async ({
  page,
}) => {
  test.setTimeout(120_000);
  await page.setViewportSize({ width: 390, height: 700 });
  await page.goto('/');
  await signUpThroughApi(page, 'en');
  const chatId = await openNewChat(page);
  expect(await token(page)).toBeTruthy();
  for (const n of [1, 2]) await apiSend(page, chatId, `Turn ${n}: ${'a long line of words '.repeat(40)}`);
  await page.reload();
  await expect(messages(page)).toHaveCount(5);

  const scroller = page.locator('.chat-scroll');
  const header = page.locator('.app-header');
  const composerBox = page.locator('.composer');
  // The conversation scrolls inside its own area; the page itself does not.
  await scroller.evaluate((element) => (element.scrollTop = 0));
  await expect(header).toBeInViewport();
  await expect(composerBox).toBeInViewport();
  expect(await page.evaluate(() => document.scrollingElement?.scrollTop ?? 0)).toBe(0);

  // Scrolled up, "Jump to latest" is offered; sending brings the new message into view.
  const jump = page.getByRole('button', { name: /Jump to latest/ });
  await expect(jump).toBeVisible();
  await page.getByLabel('Message', { exact: true }).fill('Are you still there?');
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await expect(userMessages(page).last()).toBeInViewport();

  // Scrolled up while the reply streams: the button carries an unread marker; it jumps down.
  const reply = assistantMessages(page).last();
  await expect(reply).toHaveAttribute('data-status', /pending|streaming/);
  await scroller.evaluate((element) => (element.scrollTop = 0));
  await expect(jump.locator('.unread-marker')).toBeVisible({ timeout: 10_000 });
  await jump.click();
  await expect(jump).toBeHidden();
  await expect(reply).toBeInViewport();
  await expect(reply).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
});

for (const locale of ['en', 'zh'] as const) {
  test(`search finds a message and opens its chat there (${locale}, phone and desktop)`, async ({ page }) => {
    test.setTimeout(90_000);
    const word = locale === 'zh' ? '信号' : 'triangulate';
    const sentence = locale === 'zh' ? '我们在冰层下面发现了一个奇怪的信号源。' : 'Can Wren triangulate the source?';
    await page.addInitScript((value) => localStorage.setItem('parley.locale', value), locale);
    await page.goto('/');
    await signUpThroughApi(page, locale);
    const chatId = await openNewChat(page);
    await apiSend(page, chatId, sentence);

    for (const size of [widths[0], widths[2]]) {
      await page.setViewportSize({ width: size.width, height: size.height });
      await page.goto('/');
      const box = page.getByRole('search').getByRole('searchbox');
      await box.fill(word);
      await box.press('Enter');
      await expect(page).toHaveURL(/\/search\?q=/);
      // The greeting and the demo reply may mention the word too: take the sent message (seq 2).
      const hit = page.locator('.hit').filter({ has: page.locator('a[href$="?at=2"]') });
      await expect(hit.locator('mark').first()).toHaveText(word);
      await expect(hit).toContainText(sentence.slice(0, 8));
      await checkScreen(page, `search at ${size.width} px`);
      await hit.locator('a').click();
      await expect(page).toHaveURL(new RegExp(`/chats/${chatId}\\?at=2$`));
      const found = page.locator('li.message[data-found="true"]');
      await expect(found).toContainText(sentence);
      await expect(found).toBeInViewport();
    }
  });
}
