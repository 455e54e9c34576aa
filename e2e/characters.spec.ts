import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import CRC32 from 'crc-32';
import { expect, test } from '@playwright/test';
import { assistantMessages, send, signUp, startChat } from './support/app';
import { signUpThroughApi } from './support/screens';

// A PNG Character Card (V3, `ccv3` tEXt chunk), built here with the spec's field set.
async function cardPng(name: string): Promise<Buffer> {
  const image = await sharp({ create: { width: 96, height: 96, channels: 3, background: '#2a7' } })
    .png()
    .toBuffer();
  const card = {
    spec: 'chara_card_v3',
    spec_version: '3.0',
    data: {
      name,
      description: '{{char}} tends a lighthouse.',
      personality: 'Patient',
      scenario: 'A stormy night.',
      first_mes: 'Welcome in from the storm, {{user}}. I am {{char}}.',
      mes_example: '',
      creator_notes: 'A lighthouse keeper.',
      system_prompt: '',
      post_history_instructions: '',
      alternate_greetings: [],
      tags: ['sea'],
      creator: 'tests',
      character_version: '1',
      extensions: { kept: { as: 'is' } },
      group_only_greetings: [],
    },
  };
  const keyword = Buffer.from('ccv3\0', 'latin1');
  const data = Buffer.concat([keyword, Buffer.from(Buffer.from(JSON.stringify(card)).toString('base64'), 'latin1')]);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write('tEXt', 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeInt32BE(CRC32.buf(data, CRC32.bstr('tEXt')), 0);
  const iend = image.length - 12;
  return Buffer.concat([image.subarray(0, iend), head, data, crc, image.subarray(iend)]);
}

test('import a card by drag-and-drop, chat with it, see its avatar, export it', async ({ page }) => {
  await signUp(page);
  const name = 'Keeper Wren';
  const png = await cardPng(name);

  // Drop the file on the import zone, as a person dragging it from their desktop would.
  const imported = page.waitForResponse(
    (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/v1/me/characters/import',
  );
  const transfer = await page.evaluateHandle(
    ({ base64, fileName }) => {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], fileName, { type: 'image/png' }));
      return data;
    },
    { base64: png.toString('base64'), fileName: 'keeper.png' },
  );
  await page.getByTestId('import-zone').dispatchEvent('drop', { dataTransfer: transfer });
  expect((await imported).status()).toBe(201);
  await expect(page.getByRole('status')).toContainText(`Imported ${name}.`);

  const card = page.locator('.character-card').filter({ hasText: name });
  await expect(card.locator('img.avatar')).toBeVisible();
  const avatarSrc = await card.locator('img.avatar').getAttribute('src');
  expect(avatarSrc).toMatch(/^\/api\/v1\/avatars\/[0-9a-f]{64}$/);

  // Own characters come first: the first "Start chat" is this one.
  await startChat(page);
  await expect(assistantMessages(page).first()).toContainText(`Welcome in from the storm, User. I am ${name}.`);
  await expect(assistantMessages(page).first().locator('img.avatar')).toHaveAttribute('src', avatarSrc!);
  await send(page, 'Is the lamp lit?');
  await expect(assistantMessages(page).nth(1)).toHaveAttribute('data-status', 'complete', { timeout: 15_000 });
  await expect(page.locator('.chat-list-item').first().locator('img.avatar')).toHaveAttribute('src', avatarSrc!);

  // Back to the characters, open the editor, export the card as PNG.
  await page.getByRole('link', { name: 'New chat' }).click();
  await page.getByRole('button', { name: `Edit ${name}` }).click();
  await expect(page.getByLabel('Name', { exact: true }).first()).toHaveValue(name);
  await expect(page.getByTestId('greeting-preview')).toContainText(`I am ${name}.`);
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export PNG card' }).click();
  const file = await (await download).path();
  const bytes = await readFile(file);
  expect(bytes.subarray(1, 4).toString('latin1')).toBe('PNG');
  const text = bytes.toString('latin1');
  const at = text.indexOf('ccv3\0');
  expect(at).toBeGreaterThan(0);
  const base64 = /^[A-Za-z0-9+/=]+/.exec(text.slice(at + 5))![0];
  const exported = JSON.parse(Buffer.from(base64, 'base64').toString('utf8')) as {
    spec: string;
    data: { name: string; extensions: unknown };
  };
  expect(exported.spec).toBe('chara_card_v3');
  expect(exported.data.name).toBe(name);
  expect(exported.data.extensions).toEqual({ kept: { as: 'is' } });
});

test('the character picker and editor fit a 390 px wide screen', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/');
  await signUpThroughApi(page, 'en');
  // On a phone the picker is a screen of its own.
  await page.goto('/new');
  await page.getByRole('button', { name: 'New character' }).click();
  await page.getByLabel('Name', { exact: true }).first().fill('Narrow');
  await page.getByLabel('First message', { exact: true }).first().fill('Hi {{user}}, I am {{char}}.');
  await expect(page.getByTestId('greeting-preview')).toHaveText('Hi User, I am Narrow.');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});
