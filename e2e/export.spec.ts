import { expect, test } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { apiMessages, apiSend, chatView, messages, token } from './support/app';
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

test('all chats exported as one archive and imported again: every chat, every message', async ({ page }) => {
  test.setTimeout(90_000);
  await page.goto('/');
  await signUpThroughApi(page, 'en');
  const auth = { Authorization: `Bearer ${await token(page)}` };
  const chatIds: string[] = [];
  for (const title of ['Signal hunt', '信号']) {
    const created = await page.request.post('/api/v1/chats', { headers: auth, data: { characterId: 'captain-mira' } });
    const id = ((await created.json()) as { id: string }).id;
    await page.request.patch(`/api/v1/chats/${id}`, { headers: auth, data: { title } });
    chatIds.push(id);
  }
  await apiSend(page, chatIds[0]!, 'Where is the **signal** coming from? 信号在哪里？');
  const originals = new Map<string, string[][]>();
  for (const [i, id] of chatIds.entries()) {
    originals.set(
      ['Signal hunt', '信号'][i]!,
      (await apiMessages(page, id)).map((m) => [m.role, m.content]),
    );
  }

  await page.goto('/settings');
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export all chats' }).click();
  const saved = await download;
  expect(saved.suggestedFilename()).toMatch(/^parley-chats-\d{4}-\d{2}-\d{2}\.json$/);
  const file = (await saved.path()) ?? '';
  const archive = JSON.parse(await readFile(file, 'utf8')) as { format: string; chats: unknown[] };
  expect(archive).toMatchObject({ format: 'parley.archive', version: 1 });
  expect(archive.chats).toHaveLength(2);

  await page.getByLabel('A chat exported as JSON').setInputFiles(file);
  await expect(page.getByRole('status').filter({ hasText: 'Imported 2 of 2 chats.' })).toBeVisible();
  const listed = await page.request.get('/api/v1/chats?limit=50', { headers: auth });
  const chats = ((await listed.json()) as { items: { id: string; title: string }[] }).items;
  const copies = chats.filter((chat) => !chatIds.includes(chat.id));
  expect(copies.map((chat) => chat.title).sort()).toEqual(['Signal hunt', '信号'].sort());
  for (const copy of copies) {
    expect((await apiMessages(page, copy.id)).map((m) => [m.role, m.content])).toEqual(originals.get(copy.title));
  }
});
