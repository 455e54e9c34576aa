import { expect, test, type Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { apiMessages, apiSend, messages, token } from './support/app';
import { openNewChat, signUpThroughApi } from './support/screens';

test('a chat exported as JSON and imported again has every message; Markdown export too', async ({ page }) => {
  test.setTimeout(90_000);
  await page.goto('/');
  await signUpThroughApi(page, 'en');
  const chatId = await openNewChat(page);
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

interface TreeMessage {
  id: string;
  parentId: string | null;
  role: string;
  content: string;
}

/** Every message of a chat on every branch, and its active leaf (`getChatTree`, every page). */
async function apiTree(page: Page, chatId: string): Promise<{ items: TreeMessage[]; activeLeafId: string | null }> {
  const items: TreeMessage[] = [];
  let after = 0;
  for (;;) {
    const response = await page.request.get(`/api/v1/chats/${chatId}/tree?after=${after}`, {
      headers: { Authorization: `Bearer ${await token(page)}` },
    });
    expect(response.status()).toBe(200);
    const tree = (await response.json()) as {
      items: TreeMessage[];
      activeLeafId: string | null;
      hasMore: boolean;
      nextAfter: number | null;
    };
    items.push(...tree.items);
    if (!tree.hasMore) return { items, activeLeafId: tree.activeLeafId };
    after = tree.nextAfter ?? 0;
  }
}

/** A tree by position: each message's parent (as a position), role and text; and where the leaf is. */
function shapeOf(tree: { items: TreeMessage[]; activeLeafId: string | null }) {
  const position = new Map(tree.items.map((message, i) => [message.id, i]));
  return {
    messages: tree.items.map((m) => [m.parentId === null ? null : position.get(m.parentId), m.role, m.content]),
    leaf: tree.activeLeafId === null ? null : position.get(tree.activeLeafId),
  };
}

test('a chat with a regenerated reply and an edited branch exported as JSON imports as the same tree', async ({
  page,
}) => {
  test.setTimeout(90_000);
  await page.goto('/');
  await signUpThroughApi(page, 'en');
  const chatId = await openNewChat(page);
  const auth = { Authorization: `Bearer ${await token(page)}` };
  await apiSend(page, chatId, 'Which way to the reef?');
  const [, , reply] = await apiMessages(page, chatId);
  const regenerated = await page.request.post(`/api/v1/chats/${chatId}/messages/${reply!.id}/regenerate`, {
    headers: auth,
  });
  expect(regenerated.status()).toBe(201);
  await apiSend(page, chatId, 'And the lighthouse?');
  const question = (await apiMessages(page, chatId)).at(-2)!;
  const edited = await page.request.post(`/api/v1/chats/${chatId}/messages/${question.id}/edit`, {
    headers: auth,
    data: { content: 'And the harbour?' },
  });
  expect(edited.status()).toBe(201);
  const original = await apiTree(page, chatId);
  expect(original.items).toHaveLength(8);
  const path = (await apiMessages(page, chatId)).map((m) => [m.role, m.content]);

  await page.reload();
  await expect(messages(page)).toHaveCount(5);
  const jsonDownload = page.waitForEvent('download');
  await page.getByRole('button', { name: 'JSON' }).click();
  const file = (await (await jsonDownload).path()) ?? '';
  const written = JSON.parse(await readFile(file, 'utf8')) as { version: number; messages: unknown[] };
  expect(written.version).toBe(2);
  expect(written.messages).toHaveLength(8);

  await page.goto('/settings');
  await page.getByLabel('A chat exported as JSON').setInputFiles(file);
  await expect(page).toHaveURL(/\/chats\/[0-9a-f-]{36}$/);
  const importedId = /\/chats\/([0-9a-f-]{36})$/.exec(page.url())?.[1] ?? '';
  expect(importedId).not.toBe(chatId);
  // The same active path on screen, with the versions behind ‹ ›.
  await expect(messages(page)).toHaveCount(5);
  await expect(page.getByRole('group', { name: 'Version 2 of 2' })).toHaveCount(2);
  expect((await apiMessages(page, importedId)).map((m) => [m.role, m.content])).toEqual(path);
  // The same tree, every message of every branch.
  expect(shapeOf(await apiTree(page, importedId))).toEqual(shapeOf(original));
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
