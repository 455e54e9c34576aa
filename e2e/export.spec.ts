import { expect, test } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { apiMessages, apiSend, chatView, messages } from './support/app';
import { signUpThroughApi } from './support/screens';

test('a chat exported as JSON and imported again has every message; Markdown export too', async ({ page }) => {
  test.setTimeout(90_000);
  await page.goto('/');
  await signUpThroughApi(page, 'en');
  await page.goto('/new');
  await page.locator('.character-card button').first().click();
  await expect(chatView(page)).toBeVisible();
  const chatId = /\/chats\/([0-9a-f-]{36})$/.exec(page.url())?.[1] ?? '';
  await apiSend(page, chatId, 'Where is the **signal** coming from? 信号在哪里？');
  await page.reload();
  await expect(messages(page)).toHaveCount(3);
  const original = (await apiMessages(page, chatId)).map((m) => [m.role, m.content]);

  const markdownDownload = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Markdown' }).click();
  const markdown = await readFile((await (await markdownDownload).path()) ?? '', 'utf8');
  for (const [, content] of original) expect(markdown).toContain(content);

  const jsonDownload = page.waitForEvent('download');
  await page.getByRole('button', { name: 'JSON' }).click();
  const file = await (await jsonDownload).path();

  await page.goto('/settings');
  await page.getByLabel('A chat exported as JSON').setInputFiles(file);
  await expect(page).toHaveURL(/\/chats\/[0-9a-f-]{36}$/);
  const importedId = /\/chats\/([0-9a-f-]{36})$/.exec(page.url())?.[1] ?? '';
  expect(importedId).not.toBe(chatId);
  await expect(messages(page)).toHaveCount(3);
  expect((await apiMessages(page, importedId)).map((m) => [m.role, m.content])).toEqual(original);
});

test('importing a file that is not an export says so in the UI language', async ({ page }) => {
  await page.addInitScript(() => localStorage.setItem('parley.locale', 'zh'));
  await page.goto('/');
  await signUpThroughApi(page, 'zh');
  await page.goto('/settings');
  const input = page.locator('input[type="file"]');
  await input.setInputFiles({ name: 'x.json', mimeType: 'application/json', buffer: Buffer.from('not json') });
  await expect(page.getByRole('alert')).toHaveText('此文件不是 JSON 格式的对话导出。');
  await input.setInputFiles({
    name: 'y.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify({ format: 'parley.chat', version: 1, chat: {}, messages: [] })),
  });
  await expect(page.getByTestId('error-banner')).toHaveAttribute('data-code', 'validation_failed');
});
