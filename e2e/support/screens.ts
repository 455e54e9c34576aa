import AxeBuilder from '@axe-core/playwright';
import { expect, type Page } from '@playwright/test';
import { randomUUID } from 'node:crypto';
import { chatView } from './app';

/** The widths every main flow is tried at: a phone, a tablet, a desktop. */
export const widths = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'tablet', width: 768, height: 1024 },
  { name: 'desktop', width: 1440, height: 900 },
] as const;

/** The page is no wider than the window: nothing sticks out sideways. */
export async function expectNoHorizontalOverflow(page: Page, screen: string): Promise<void> {
  const size = await page.evaluate(() => {
    const root = document.scrollingElement ?? document.documentElement;
    return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth };
  });
  expect(size.scrollWidth, `${screen}: page wider than the window`).toBeLessThanOrEqual(size.clientWidth);
}

/** axe-core finds no accessibility violation on the screen as it is now. */
export async function expectNoAxeViolations(page: Page, screen: string): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const found = results.violations.map(
    (violation) => `${violation.id} (${violation.impact}): ${violation.nodes.map((node) => node.target).join(', ')}`,
  );
  expect(found, `${screen}: axe violations`).toEqual([]);
}

/** Both checks, for one screen. */
export async function checkScreen(page: Page, screen: string): Promise<void> {
  await expectNoHorizontalOverflow(page, screen);
  await expectNoAxeViolations(page, screen);
}

/** Registers an account through the API and puts its token where the app keeps it. */
export async function signUpThroughApi(page: Page, locale: 'en' | 'zh'): Promise<void> {
  const response = await page.request.post('/api/v1/auth/register', {
    data: {
      email: `layout-${randomUUID()}@example.test`,
      password: 'correct horse battery',
      locale,
      displayName: locale === 'zh' ? '一个名字很长很长很长很长的测试用户' : 'A tester with a rather long display name',
    },
  });
  expect(response.status(), await response.text()).toBe(201);
  const { accessToken } = (await response.json()) as { accessToken: string };
  await page.evaluate((value) => localStorage.setItem('parley.token', value), accessToken);
}

/** Opens a new chat with the first character from the new-chat screen; gives the chat's id. */
export async function openNewChat(page: Page): Promise<string> {
  await page.goto('/new');
  await page.locator('.character-card button').first().click();
  await expect(chatView(page)).toBeVisible();
  return /\/chats\/([0-9a-f-]{36})$/.exec(page.url())?.[1] ?? '';
}
