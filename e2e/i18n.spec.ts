import { expect, test } from '@playwright/test';
import { chinese, errorBanner, forceErrorOnce, screenshot, send, signUp, startChat } from './support/app';

const HAN = /\p{Script=Han}/u;

test('switching to 中文 changes the UI and the error text', async ({ page }) => {
  await signUp(page);
  await startChat(page);
  await expect(page.getByRole('button', { name: 'Send', exact: true })).toBeVisible();

  await page.getByLabel('Language').selectOption({ label: '中文' });
  await expect(page.getByRole('button', { name: '发送', exact: true })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Send', exact: true })).toHaveCount(0);
  await expect(page.getByLabel('语言')).toBeVisible();
  await expect(page.getByLabel('消息', { exact: true })).toBeVisible();
  await expect(page.locator('html')).toHaveAttribute('lang', /^zh/);

  // A chat started in Chinese: the character answers in Chinese too.
  await page.getByRole('link', { name: '新对话' }).click();
  await expect(page.getByRole('heading', { name: '开始新的对话' })).toBeVisible();
  await startChat(page, '开始对话');
  const fault = await forceErrorOnce(page, 'provider_503');
  await send(page, '信号从哪里来？', chinese);
  await fault.applied;
  const banner = errorBanner(page);
  await expect(banner).toHaveAttribute('data-code', 'provider_unavailable', { timeout: 15_000 });
  await expect(banner.locator('.error-message')).toHaveText(HAN);
  await expect(banner.getByRole('button', { name: '重试' })).toBeVisible();
  await expect(banner.getByRole('button', { name: '重新加载对话' })).toBeVisible();
  // The request id is there to report a server failure, behind a disclosure.
  await expect(banner.getByRole('button', { name: '复制请求 ID' })).toBeHidden();
  await banner.getByText('详细信息', { exact: true }).click();
  await expect(banner.getByRole('button', { name: '复制请求 ID' })).toBeVisible();
  await screenshot(page, 'chinese-error');

  // The choice is remembered (and the open chat, kept in the address, reopens).
  await page.reload();
  await expect(page.getByLabel('语言')).toHaveValue('zh');
  await expect(page.getByRole('button', { name: '发送', exact: true })).toBeVisible();
  await page.getByRole('link', { name: '新对话' }).click();
  await expect(page.getByRole('heading', { name: '开始新的对话' })).toBeVisible();
});
