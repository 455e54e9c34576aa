import { expect, test } from '@playwright/test';
import { checkScreen, signUpThroughApi } from './support/screens';

test('settings: display name, theme and language, each kept', async ({ page }) => {
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto('/');
  await signUpThroughApi(page, 'en');
  await page.goto('/settings');
  await page.getByLabel('Display name').fill('Stargazer');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Saved.' })).toBeVisible();
  await expect(page.locator('.account-name')).toHaveText('Stargazer');

  await page.getByLabel('Dark').check();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await checkScreen(page, 'settings, dark');
  await page.reload();
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  await expect(page.getByLabel('Display name')).toHaveValue('Stargazer');

  await page.getByLabel('Same as the system').check();
  await expect(page.locator('html')).not.toHaveAttribute('data-theme', /./);
  await page.locator('.settings').getByLabel('Language').selectOption('zh');
  await expect(page.getByRole('heading', { name: '设置' })).toBeVisible();
});
