import { expect, test } from '@playwright/test';
import { latestReply, screenshot, send, signUp, startChat, token } from './support/app';

test('the demo character rolls dice: the call and its result are shown in the reply, collapsed', async ({ page }) => {
  await signUp(page);
  const chatId = await startChat(page);
  await send(page, 'Captain, roll 2d6+3 for the landing party.');

  const reply = latestReply(page);
  await expect(reply).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  const call = reply.locator('.tool-call[data-tool="roll_dice"]');
  await expect(call).toHaveCount(1);
  await expect(call).toHaveAttribute('data-status', 'complete');
  await expect(call.locator('summary')).toContainText('roll_dice');
  // Collapsed by default: the arguments and result open on demand.
  await expect(call.locator('.tool-arguments')).toBeHidden();
  await call.locator('summary').click();
  await expect(call.locator('.tool-arguments')).toContainText('"notation": "2d6+3"');
  const result = JSON.parse((await call.locator('.tool-result').textContent()) ?? '{}') as { total: number };
  await expect(reply.locator('.message-content')).toContainText(`a total of ${result.total}`);
  await screenshot(page, 'chat-tool-call');

  // The same call through the API.
  const listed = await page.request.get(`/api/v1/chats/${chatId}/tool-calls`, {
    headers: { Authorization: `Bearer ${await token(page)}` },
  });
  const calls = ((await listed.json()) as { items: Array<{ toolName: string; result: { total: number } }> }).items;
  expect(calls.map((c) => [c.toolName, c.result.total])).toEqual([['roll_dice', result.total]]);

  // After a reload the reply still shows its call and its result (the history page carries them).
  await page.reload();
  const reloaded = latestReply(page).locator('.tool-call[data-tool="roll_dice"]');
  await expect(reloaded).toHaveCount(1);
  await expect(reloaded).toHaveAttribute('data-status', 'complete');
  await reloaded.locator('summary').click();
  await expect(reloaded.locator('.tool-arguments')).toContainText('"notation": "2d6+3"');
  const shown = JSON.parse((await reloaded.locator('.tool-result').textContent()) ?? '{}') as { total: number };
  expect(shown.total).toBe(result.total);
});

test('the character remembers, and the user sees and deletes the memory from the chat', async ({ page }) => {
  await signUp(page);
  await startChat(page);
  // The chat at phone width (the sign-up flow is the desktop one).
  await page.setViewportSize({ width: 390, height: 844 });
  await send(page, 'Remember that the airlock code is 4-7-1.');
  await expect(latestReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  await expect(latestReply(page).locator('.tool-call[data-tool="remember"]')).toHaveCount(1);

  const memory = page.locator('details.chat-memory');
  await memory.locator('summary').click();
  const entry = memory.locator('.memory-entry');
  await expect(entry).toHaveCount(1);
  await expect(entry).toContainText('the airlock code is 4-7-1.');
  // Readable at phone width: nothing wider than the page.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await entry.getByRole('button', { name: /Forget/ }).click();
  await expect(entry).toHaveCount(0);
  await expect(memory).toContainText('Nothing remembered in this chat yet.');
});

test('a character made in the editor is given tools by ticking them, and uses them', async ({ page }) => {
  await signUp(page);
  await page.getByRole('button', { name: 'New character' }).click();
  await page.getByLabel('Name', { exact: true }).first().fill('Dicer');
  await page.getByLabel('First message', { exact: true }).first().fill('Ready to roll.');
  const dice = page.getByRole('checkbox', { name: /roll_dice/ });
  await expect(dice).not.toBeChecked();
  await dice.check();
  const saved = page.waitForResponse(
    (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/v1/me/characters',
  );
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  const response = await saved;
  expect(response.status()).toBe(201);
  expect(((await response.json()) as { tools: string[] }).tools).toEqual(['roll_dice']);
  await page.getByRole('button', { name: 'Close', exact: true }).click();

  // Own characters come first: the first "Start chat" is this one.
  await startChat(page);
  await send(page, 'Roll 2d6+3, please.');
  const reply = latestReply(page);
  await expect(reply).toHaveAttribute('data-status', 'complete', { timeout: 30_000 });
  await expect(reply.locator('.tool-call[data-tool="roll_dice"]')).toHaveCount(1);
});
