import { expect, test, type Page } from '@playwright/test';
import { chatView, latestReply, send } from './support/app';
import { signUpThroughApi } from './support/screens';

// Bytes on the wire (compressed, headers excluded) for everything the page loaded, by type.
async function transferred(page: Page, during: () => Promise<void>): Promise<Record<string, number>> {
  const session = await page.context().newCDPSession(page);
  await session.send('Network.enable');
  await session.send('Network.setCacheDisabled', { cacheDisabled: true });
  const types = new Map<string, string>();
  const totals: Record<string, number> = {};
  session.on('Network.responseReceived', (event) => types.set(event.requestId, event.type));
  session.on('Network.loadingFinished', (event) => {
    const type = types.get(event.requestId) ?? 'Other';
    totals[type] = (totals[type] ?? 0) + event.encodedDataLength;
  });
  await during();
  await session.detach();
  return totals;
}

test('the sign-in page loads under 50 KB of compressed script, without the Markdown renderer', async ({ page }) => {
  const scripts: string[] = [];
  page.on('response', (response) => {
    if (response.request().resourceType() === 'script') scripts.push(new URL(response.url()).pathname);
  });
  const totals = await transferred(page, async () => {
    await page.goto('/');
    await expect(page.locator('.auth')).toBeVisible();
    await page.waitForLoadState('networkidle');
  });
  test.info().annotations.push({ type: 'sign-in transfer (bytes)', description: JSON.stringify(totals) });
  process.stdout.write(`sign-in transfer: ${JSON.stringify(totals)}\n`);
  expect(scripts.some((path) => /markdown|math/.test(path))).toBe(false);
  expect(totals.Script ?? 0).toBeLessThan(50_000);
});

test('transfer size of the chat screen', async ({ page }) => {
  await page.goto('/');
  await signUpThroughApi(page, 'en');
  await page.goto('/new');
  await page.locator('.character-card button').first().click();
  await expect(chatView(page)).toBeVisible();
  await send(page, 'Where is the signal coming from?');
  await expect(latestReply(page)).toHaveAttribute('data-status', 'complete', { timeout: 20_000 });
  const url = page.url();
  const totals = await transferred(page, async () => {
    await page.goto(url);
    await expect(latestReply(page)).toHaveAttribute('data-status', 'complete');
    await page.waitForLoadState('networkidle');
  });
  const total = Object.values(totals).reduce((a, b) => a + b, 0);
  test
    .info()
    .annotations.push({ type: 'chat screen transfer (bytes)', description: JSON.stringify({ total, ...totals }) });
  process.stdout.write(`chat screen transfer: ${JSON.stringify({ total, ...totals })}\n`);
  expect(total).toBeGreaterThan(0);
});
