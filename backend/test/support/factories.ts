import { randomUUID } from 'node:crypto';
import type { AuthResponse, Chat } from '@parley/api-types';
import type { TestApp } from './test-app.js';

// Small builders so each test states only what it cares about.
export async function registerUser(t: TestApp, overrides: Record<string, unknown> = {}): Promise<AuthResponse> {
  const response = await t.http
    .post('/api/v1/auth/register')
    .send({ email: `user-${randomUUID()}@example.com`, password: 'correct horse battery', ...overrides })
    .expect(201);
  return response.body as AuthResponse;
}

export async function createChat(t: TestApp, token: string, characterId = 'captain-mira'): Promise<Chat> {
  const response = await t.http
    .post('/api/v1/chats')
    .set('Authorization', `Bearer ${token}`)
    .send({ characterId })
    .expect(201);
  return response.body as Chat;
}
