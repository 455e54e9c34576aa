import { expect, test } from '@playwright/test';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { screenshot } from './support/app';
import { checkScreen, signUpThroughApi } from './support/screens';
import { repoRoot } from './support/server';

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

const account = {
  en: {
    settings: 'Settings',
    displayName: 'Display name',
    save: 'Save',
    saved: 'Saved.',
    current: 'Current password',
    next: 'New password',
    change: 'Change password',
    changed: 'Password changed. Other devices are signed out.',
    signOut: 'Sign out',
    everywhere: 'Sign out everywhere',
    email: 'Email',
    password: 'Password',
    signIn: 'Sign in',
    confirm: 'Your password, to confirm',
    delete: 'Delete my account and all its data',
    incorrect: 'The password is incorrect.',
    forgot: 'Forgot password?',
    resetTitle: 'Set a new password',
  },
  zh: {
    settings: '设置',
    displayName: '昵称',
    save: '保存',
    saved: '已保存。',
    current: '当前密码',
    next: '新密码',
    change: '修改密码',
    changed: '密码已修改，其他设备已退出登录。',
    signOut: '退出登录',
    everywhere: '在所有设备上退出',
    email: '邮箱',
    password: '密码',
    signIn: '登录',
    confirm: '输入密码以确认',
    delete: '删除我的账号及所有数据',
    incorrect: '密码不正确。',
    forgot: '忘记密码？',
    resetTitle: '设置新密码',
  },
} as const;

for (const locale of ['en', 'zh'] as const) {
  test(`account settings on a phone (${locale}): name, password, sign out everywhere, delete`, async ({ page }) => {
    const words = account[locale];
    const email = `settings-${randomUUID()}@example.test`;
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto('/');
    await page.evaluate((value) => localStorage.setItem('parley.locale', value), locale);
    const registered = await page.request.post('/api/v1/auth/register', {
      data: { email, password: 'first password', locale },
    });
    expect(registered.status()).toBe(201);
    const signInForm = async (password: string) => {
      await page.getByLabel(words.email).fill(email);
      await page.getByLabel(words.password, { exact: true }).fill(password);
      await page.locator('form').getByRole('button', { name: words.signIn }).click();
      await expect(page.getByLabel(words.email)).toHaveCount(0);
    };

    // The sign-in screen says what to do about a forgotten password (there is no email).
    await page.reload();
    await page.getByRole('button', { name: words.forgot }).click();
    await expect(page.getByRole('heading', { name: words.resetTitle })).toBeVisible();
    await checkScreen(page, `reset password, ${locale}`);
    await page.getByRole('button', { name: locale === 'en' ? 'Back to sign in' : '返回登录' }).click();

    await signInForm('first password');
    await page.goto('/settings');
    await expect(page.getByRole('heading', { name: words.settings, level: 2 })).toBeVisible();
    await checkScreen(page, `settings, phone, ${locale}`);
    await screenshot(page, `settings-phone-${locale}`);

    await page.getByLabel(words.displayName).fill(locale === 'en' ? 'Stargazer' : '观星者');
    await page.getByRole('button', { name: words.save }).click();
    await expect(page.getByRole('status').filter({ hasText: words.saved })).toBeVisible();

    // A wrong current password is said plainly, and signs no one out.
    await page.getByLabel(words.current).fill('not my password');
    await page.getByLabel(words.next).fill('second password');
    await page.getByRole('button', { name: words.change }).click();
    await expect(page.getByText(words.incorrect)).toBeVisible();
    await checkScreen(page, `settings with an error, phone, ${locale}`);
    await page.getByLabel(words.current).fill('first password');
    await page.getByRole('button', { name: words.change }).click();
    await expect(page.getByRole('status').filter({ hasText: words.changed })).toBeVisible();
    await page.getByRole('button', { name: words.signOut, exact: true }).click();
    await signInForm('second password');
    await expect(page.getByRole('heading', { name: words.settings, level: 2 })).toBeVisible();

    // Another device's token is refused after "sign out everywhere", and so is this one.
    const elsewhere = await page.request.post('/api/v1/auth/login', { data: { email, password: 'second password' } });
    const otherToken = ((await elsewhere.json()) as { accessToken: string }).accessToken;
    await page.getByRole('button', { name: words.everywhere }).click();
    await expect(page.getByLabel(words.email)).toBeVisible();
    const refused = await page.request.get('/api/v1/me', { headers: { Authorization: `Bearer ${otherToken}` } });
    expect(refused.status()).toBe(401);

    // Delete the account: afterwards it cannot sign in.
    await signInForm('second password');
    await expect(page.getByRole('heading', { name: words.settings, level: 2 })).toBeVisible();
    await page.getByLabel(words.confirm).fill('second password');
    await page.getByRole('button', { name: words.delete }).click();
    await expect(page.getByLabel(words.email)).toBeVisible();
    const gone = await page.request.post('/api/v1/auth/login', { data: { email, password: 'second password' } });
    expect(gone.status()).toBe(401);
  });
}

test('forgot password: the link an operator prints sets a new password and signs in (中文, phone)', async ({
  page,
}) => {
  const email = `reset-${randomUUID()}@example.test`;
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto('/');
  await page.evaluate(() => localStorage.setItem('parley.locale', 'zh'));
  const registered = await page.request.post('/api/v1/auth/register', {
    data: { email, password: 'forgotten password', locale: 'zh' },
  });
  expect(registered.status()).toBe(201);
  // `npm run reset-password -- <email>`, against the running app's database.
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [join(repoRoot, 'backend', 'dist', 'reset-password.cli.js'), email],
    { env: { PATH: process.env.PATH, DATA_DIR: process.env.PARLEY_BROWSER_DATA_DIR } },
  );
  const link = /\/reset-password#token=[A-Za-z0-9_-]+/.exec(stdout)?.[0];
  expect(link, stdout).toBeDefined();

  await page.goto(link!);
  await expect(page.getByRole('heading', { name: '设置新密码' })).toBeVisible();
  await expect(page.getByLabel('重置码')).not.toHaveValue('');
  await checkScreen(page, 'reset password from a link, phone, zh');
  await page.getByLabel('新密码', { exact: true }).fill('remembered now');
  await page.getByRole('button', { name: '设置密码并登录' }).click();
  await expect(page.getByLabel('邮箱')).toHaveCount(0);
  await expect(page).toHaveURL(/\/$/);
  // The code is spent, and the new password is the one that works.
  const reused = await page.request.post('/api/v1/auth/password-reset', {
    data: { token: link!.split('=')[1], newPassword: 'another password' },
  });
  expect(reused.status()).toBe(400);
  const old = await page.request.post('/api/v1/auth/login', { data: { email, password: 'forgotten password' } });
  expect(old.status()).toBe(401);
  const fresh = await page.request.post('/api/v1/auth/login', { data: { email, password: 'remembered now' } });
  expect(fresh.status()).toBe(200);
});

test('a password changed in one tab keeps the other tab signed in, with the new token', async ({ page, context }) => {
  await page.goto('/');
  await signUpThroughApi(page, 'en');
  // This tab holds the chat list and a realtime connection, which the change closes (4401).
  const sockets: { ready: Promise<void>; closed: Promise<void> }[] = [];
  page.on('websocket', (socket) =>
    sockets.push({
      ready: new Promise((resolve) =>
        socket.on('framereceived', (frame) => String(frame.payload).includes('"ready"') && resolve()),
      ),
      closed: new Promise((resolve) => socket.on('close', () => resolve())),
    }),
  );
  await page.reload();
  await expect.poll(() => sockets.length).toBe(1);
  await sockets[0]!.ready;
  const settings = await context.newPage();
  await settings.goto('/settings');
  await settings.getByLabel('Current password').fill('correct horse battery');
  await settings.getByLabel('New password').fill('a new password here');
  await settings.getByRole('button', { name: 'Change password' }).click();
  await expect(settings.getByRole('status').filter({ hasText: 'Password changed.' })).toBeVisible();
  const fresh = await settings.evaluate(() => localStorage.getItem('parley.token'));

  // The first tab's socket was refused; it takes the stored token instead of signing out, and
  // connects again with it.
  await sockets[0]!.closed;
  await expect.poll(() => sockets.length).toBe(2);
  await sockets[1]!.ready;
  await expect(page.locator('.chat-list')).toBeVisible();
  await expect(page.getByLabel('Email')).toHaveCount(0);
  expect(await page.evaluate(() => localStorage.getItem('parley.token'))).toBe(fresh);
  await settings.reload();
  await expect(settings.getByRole('heading', { name: 'Settings', level: 2 })).toBeVisible();
});
