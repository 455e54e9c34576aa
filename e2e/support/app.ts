import { expect, type Locator, type Page, type Request, type Route } from '@playwright/test';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { resultsDir } from './server';

/** The faults the backend honours in `X-Debug-Force-Error` when started with DEBUG_FAULTS=true. */
export type Fault =
  'provider_503' | 'provider_429' | 'timeout' | 'breaker' | 'db_unavailable' | 'duplicate_statement' | 'max_tokens';

export interface ApiMessage {
  id: string;
  seq: number;
  role: 'user' | 'assistant';
  content: string;
  status: 'pending' | 'streaming' | 'complete' | 'failed' | 'cancelled';
  errorCode: string | null;
  replyToId: string | null;
}

export const screenshotsDir = join(resultsDir, 'screenshots');

/** Keeps a screenshot of a main screen as a test artifact (docs/screenshots gets a few: see README). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(screenshotsDir, `${name}.png`) });
}

/** Registers a fresh account through the form and waits for the signed-in screen. */
export async function signUp(page: Page, options: { screenshotAs?: string } = {}): Promise<{ email: string }> {
  const email = `browser-${randomUUID()}@example.test`;
  await page.goto('/');
  await page.getByRole('button', { name: 'New here? Create an account' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByLabel('Display name (optional)').fill('Browser Test');
  if (options.screenshotAs) await screenshot(page, options.screenshotAs);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'Start a new chat' })).toBeVisible();
  return { email };
}

/** Starts a chat with the first character (Captain Mira); returns the new chat's id. */
export async function startChat(page: Page, startLabel = 'Start chat'): Promise<string> {
  const created = page.waitForResponse(
    (response) => response.request().method() === 'POST' && new URL(response.url()).pathname === '/api/v1/chats',
  );
  await page.getByRole('button', { name: startLabel }).first().click();
  const response = await created;
  expect(response.status()).toBe(201);
  const chat = (await response.json()) as { id: string };
  await expect(chatView(page)).toBeVisible();
  return chat.id;
}

export const chatView = (page: Page): Locator => page.locator('section.chat-view');
export const messages = (page: Page): Locator => page.locator('ol.messages > li.message');
export const userMessages = (page: Page): Locator => messages(page).and(page.locator('[data-role="user"]'));
export const assistantMessages = (page: Page): Locator => messages(page).and(page.locator('[data-role="assistant"]'));
/** The newest assistant message after the user's last message (not the greeting). */
export const latestReply = (page: Page): Locator =>
  page.locator('ol.messages > li.message[data-role="user"] ~ li.message[data-role="assistant"]').last();
export const typingIndicator = (page: Page): Locator => page.getByTestId('typing-indicator');
export const errorBanner = (page: Page): Locator => page.getByTestId('error-banner');

export interface ComposerLabels {
  message: string;
  send: string;
}
export const english: ComposerLabels = { message: 'Message', send: 'Send' };
export const chinese: ComposerLabels = { message: '消息', send: '发送' };

export const composer = (page: Page, labels: ComposerLabels = english): Locator =>
  page.getByLabel(labels.message, { exact: true });

/** Types a message into the composer and sends it with the Send button. */
export async function send(page: Page, text: string, labels: ComposerLabels = english): Promise<void> {
  await composer(page, labels).fill(text);
  await page.getByRole('button', { name: labels.send, exact: true }).click();
}

/** The state of a message element at one moment (attribute and text read together). */
export function snapshot(message: Locator): Promise<{ status: string | undefined; text: string }> {
  return message.evaluate((element: HTMLElement) => ({
    status: element.dataset.status,
    text: element.querySelector('.message-content')?.textContent ?? '',
  }));
}

/** The user's message with this text and the assistant replies to it, from the API. */
export async function turnFromApi(page: Page, chatId: string, text: string) {
  const stored = await apiMessages(page, chatId);
  const users = stored.filter((message) => message.role === 'user' && message.content === text);
  const replies = stored.filter(
    (message) => message.role === 'assistant' && users.some((u) => u.id === message.replyToId),
  );
  return { users, replies };
}

/** Opens a chat from the sidebar (after a reload or in a new page nothing is open). */
export async function openChatFromSidebar(page: Page, index = 0): Promise<void> {
  await page.locator('.chat-list-item').nth(index).locator('.chat-title').click();
  await expect(chatView(page)).toBeVisible();
}

function isTurnRequest(request: Request): boolean {
  if (request.method() !== 'POST') return false;
  const path = new URL(request.url()).pathname;
  // Either form (JSON or streaming) of sendMessage and regenerateMessage.
  return /^\/api\/v1\/chats\/[^/]+\/messages(\/[^/]+\/regenerate)?(\/stream)?$/.test(path);
}

/**
 * Adds `X-Debug-Force-Error: <fault>` to the next send or regenerate request only: the one after
 * it (the user's retry) reaches the server untouched. Resolves once the fault has been applied.
 */
export async function forceErrorOnce(page: Page, fault: Fault): Promise<{ applied: Promise<void> }> {
  let markApplied: () => void = () => undefined;
  const applied = new Promise<void>((resolve) => (markApplied = resolve));
  let used = false;
  const handler = async (route: Route) => {
    const request = route.request();
    if (used || !isTurnRequest(request)) return route.fallback();
    used = true;
    await route.continue({ headers: { ...request.headers(), 'x-debug-force-error': fault } });
    markApplied();
    void page.unroute('**/api/v1/chats/**', handler).catch(() => undefined);
  };
  await page.route('**/api/v1/chats/**', handler);
  return { applied };
}

/** The signed-in user's bearer token, as the app keeps it. */
export async function token(page: Page): Promise<string> {
  const value = await page.evaluate(() => localStorage.getItem('parley.token'));
  if (!value) throw new Error('not signed in: no parley.token in localStorage');
  return value;
}

/** A chat's most recent messages straight from the API (oldest first). */
export async function apiMessages(page: Page, chatId: string): Promise<ApiMessage[]> {
  const response = await page.request.get(`/api/v1/chats/${chatId}/messages?limit=100`, {
    headers: { Authorization: `Bearer ${await token(page)}` },
  });
  expect(response.status()).toBe(200);
  return ((await response.json()) as { items: ApiMessage[] }).items;
}

/** Sends a turn through the API (`sendMessage`, the JSON form: returns once the reply is finished). */
export async function apiSend(page: Page, chatId: string, content: string): Promise<void> {
  const response = await page.request.post(`/api/v1/chats/${chatId}/messages`, {
    headers: { Authorization: `Bearer ${await token(page)}`, 'Idempotency-Key': randomUUID() },
    data: { content },
  });
  expect(response.ok(), await response.text()).toBe(true);
}

/** The number in a countdown text ("Try again in 3 s", "3 秒后重试"). */
export function secondsIn(text: string | null): number {
  const match = /\d+/.exec(text ?? '');
  if (!match) throw new Error(`no number in ${JSON.stringify(text)}`);
  return Number(match[0]);
}
