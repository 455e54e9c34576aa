import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { AuthResponse, CharacterDetail, Chat } from '@parley/api-types';
import { issuePasswordReset } from '../src/auth/password-reset.js';
import { AccountService } from '../src/users/account.service.js';
import { rowsOf } from '../src/database/sql.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';
import { plainPng } from './support/cards.js';
import { listen } from './support/live.js';
import { MAIN } from './support/process-app.js';
import { expectConformingFrames, RealtimeClient } from './support/realtime-client.js';

const PASSWORD = 'correct horse battery';

// `npm run reset-password -- <email>` as an operator runs it, against the test's database.
function resetCli(email: string, databaseUrl: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [join(MAIN, '..', 'reset-password.cli.js'), email], {
    env: {
      PATH: process.env.PATH,
      JWT_SECRET: 'a-secret-that-is-long-enough-for-hs256-signing',
      DATABASE_URL: databaseUrl,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}

describe(AccountService.name, () => {
  const t = useTestApp({ SIGNUP_TOKEN_GRANT: '10000000', TURN_RATE_LIMIT_PER_MINUTE: '100' });
  expectConformingFrames();
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  const http = () => t().http;
  let base: string;

  beforeAll(async () => {
    base = await listen(t().app);
  });

  const newUser = (): Promise<AuthResponse> => registerUser(t(), { password: PASSWORD });
  const login = (email: string, password: string) => http().post('/api/v1/auth/login').send({ email, password });

  describe('changePassword', () => {
    it('needs the current password, refuses earlier tokens afterwards and signs this device in again', async () => {
      const user = await newUser();
      const other = await login(user.user.email, PASSWORD).expect(200);
      const wrong = await http()
        .post('/api/v1/me/password')
        .set(auth(user.accessToken))
        .send({ currentPassword: 'not the password', newPassword: 'a brand new password' })
        .expect(403);
      expect(wrong.body.code).toBe('password_incorrect');
      // Nothing changed: the old password and the token still work.
      await login(user.user.email, PASSWORD).expect(200);
      await http().get('/api/v1/me').set(auth(user.accessToken)).expect(200);

      const changed = await http()
        .post('/api/v1/me/password')
        .set(auth(user.accessToken))
        .send({ currentPassword: PASSWORD, newPassword: 'a brand new password' })
        .expect(200);
      const fresh = changed.body as AuthResponse;
      expect(fresh.user.id).toBe(user.user.id);
      for (const old of [user.accessToken, other.body.accessToken as string]) {
        const refused = await http().get('/api/v1/me').set(auth(old)).expect(401);
        expect(refused.body.code).toBe('unauthenticated');
      }
      await http().get('/api/v1/me').set(auth(fresh.accessToken)).expect(200);
      expect((await login(user.user.email, PASSWORD).expect(401)).body.code).toBe('invalid_credentials');
      await login(user.user.email, 'a brand new password').expect(200);
    });

    it('checks the new password as sign-up does', async () => {
      const user = await newUser();
      for (const body of [
        { currentPassword: PASSWORD, newPassword: 'short' },
        { currentPassword: PASSWORD, newPassword: 'x'.repeat(129) },
        { currentPassword: PASSWORD },
        { currentPassword: '', newPassword: 'long enough password' },
        { currentPassword: PASSWORD, newPassword: 'long enough password', extra: true },
      ]) {
        const response = await http().post('/api/v1/me/password').set(auth(user.accessToken)).send(body).expect(400);
        expect(response.body.code).toBe('validation_failed');
      }
      await login(user.user.email, PASSWORD).expect(200);
      await http()
        .post('/api/v1/me/password')
        .send({ currentPassword: PASSWORD, newPassword: 'long enough password' })
        .expect(401);
    });
  });

  describe('signOutEverywhere', () => {
    it('refuses every token issued before, on HTTP and on the realtime channel, and closes open sockets', async () => {
      const user = await newUser();
      const second = (await login(user.user.email, PASSWORD).expect(200)).body as AuthResponse;
      const chat = await createChat(t(), user.accessToken);
      const history = `/api/v1/chats/${chat.id}/messages`;
      await http().get(history).set(auth(second.accessToken)).expect(200);
      // A turn sent with a key: after the sign-out, its repeat must not be answered either.
      const key = { 'idempotency-key': '"before-sign-out"' };
      await http().post(history).set(auth(second.accessToken)).set(key).send({ content: 'Still there?' }).expect(201);
      const { client } = await RealtimeClient.connect(base, { token: second.accessToken });
      await http().post('/api/v1/me/sign-out-everywhere').set(auth(user.accessToken)).expect(204);
      expect(await client.closed).toEqual({ code: 4401, reason: 'unauthorized' });
      // The history page checks the token's version in its own statement, not in the guard: held
      // to the same rule, for its first page and a later one.
      for (const token of [user.accessToken, second.accessToken]) {
        for (const path of ['/api/v1/chats', history, `${history}?before=2&limit=1`]) {
          expect((await http().get(path).set(auth(token)).expect(401)).body.code).toBe('unauthenticated');
        }
      }
      // So do the generating routes: in prepare's statement, or, for a repeat of a keyed request,
      // before the key's outcome is looked up.
      for (const token of [user.accessToken, second.accessToken]) {
        for (const [path, headers] of [
          [history, {}],
          [history, key],
          [`${history}/stream`, key],
        ] as const) {
          const refused = await http().post(path).set(auth(token)).set(headers).send({ content: 'Still there?' });
          expect([refused.status, refused.body.code]).toEqual([401, 'unauthenticated']);
        }
      }
      const late = new RealtimeClient(base);
      await late.open();
      late.send({ type: 'hello', token: second.accessToken });
      expect(await late.closed).toEqual({ code: 4401, reason: 'unauthorized' });
      // Signing in again works, and the new token is accepted.
      const again = (await login(user.user.email, PASSWORD).expect(200)).body as AuthResponse;
      await http().get('/api/v1/chats').set(auth(again.accessToken)).expect(200);
      await http().get(history).set(auth(again.accessToken)).expect(200);
      await http().post('/api/v1/me/sign-out-everywhere').expect(401);
    });
  });

  describe('resetPassword', () => {
    it('takes an operator-issued token once, within its hour, and refuses earlier tokens', async () => {
      const user = await newUser();
      const query = (sql: string, parameters: unknown[]) => rowsOf(t().dataSource, sql, parameters);
      expect(await issuePasswordReset(query, 'nobody@example.com')).toBeNull();
      const replaced = (await issuePasswordReset(query, user.user.email.toUpperCase()))!;
      const token = (await issuePasswordReset(query, user.user.email))!;
      expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      // Only its hash is stored.
      const stored = await t().dataSource.query('SELECT password_reset_hash FROM users WHERE id = $1', [user.user.id]);
      expect(stored[0].password_reset_hash).not.toContain(token);

      const reset = (body: object) => http().post('/api/v1/auth/password-reset').send(body);
      for (const bad of [replaced, 'A'.repeat(32)]) {
        const refused = await reset({ token: bad, newPassword: 'reset password 1' }).expect(400);
        expect(refused.body.code).toBe('reset_token_invalid');
      }
      expect((await reset({ token, newPassword: 'short' }).expect(400)).body.code).toBe('validation_failed');
      const done = (await reset({ token, newPassword: 'reset password 1' }).expect(200)).body as AuthResponse;
      expect(done.user.id).toBe(user.user.id);
      await http().get('/api/v1/me').set(auth(done.accessToken)).expect(200);
      await http().get('/api/v1/me').set(auth(user.accessToken)).expect(401);
      await login(user.user.email, 'reset password 1').expect(200);
      // One use only.
      expect((await reset({ token, newPassword: 'reset password 2' }).expect(400)).body.code).toBe(
        'reset_token_invalid',
      );

      const expiring = (await issuePasswordReset(query, user.user.email))!;
      await t().dataSource.query(
        "UPDATE users SET password_reset_expires_at = now() - interval '1 second' WHERE id = $1",
        [user.user.id],
      );
      expect((await reset({ token: expiring, newPassword: 'reset password 3' }).expect(400)).body.code).toBe(
        'reset_token_invalid',
      );
      await login(user.user.email, 'reset password 1').expect(200);
    });

    it('is what `npm run reset-password` prints, as a code and a link', async () => {
      const user = await newUser();
      const unknown = await resetCli('nobody@example.com', t().databaseUrl);
      expect(unknown).toEqual({ code: 1, output: expect.stringContaining('no account has the email') });
      const issued = await resetCli(user.user.email, t().databaseUrl);
      expect(issued.code).toBe(0);
      const token = /\/reset-password#token=([A-Za-z0-9_-]+)/.exec(issued.output)?.[1];
      expect(token).toBeDefined();
      await http().post('/api/v1/auth/password-reset').send({ token, newPassword: 'from the operator' }).expect(200);
      await login(user.user.email, 'from the operator').expect(200);
    });
  });

  describe('deleteMe', () => {
    /** Gives the account a row in every table that can hold one of its rows. */
    async function populate(user: AuthResponse): Promise<{ chat: Chat; character: CharacterDetail }> {
      const token = user.accessToken;
      await http()
        .post('/api/v1/me/personas')
        .set(auth(token))
        .send({ name: 'Sam', description: 'A cartographer.' })
        .expect(201);
      const character = (
        await http()
          .post('/api/v1/me/characters')
          .set(auth(token))
          // No digits in the name: the demo reply says it ("I am Ada …"), and a UUID whose digits
          // fall four by four reads as a payment card number to output moderation (422).
          .send({
            name: `Ada ${randomUUID().replace(/\d/g, (d) => 'ghijklmnop'[Number(d)]!)}`,
            firstMessage: 'Hello {{user}}.',
          })
          .expect(201)
      ).body as CharacterDetail;
      await http()
        .put(`/api/v1/me/characters/${character.id}/avatar`)
        .set(auth(token))
        .set('Content-Type', 'image/png')
        .send(await plainPng(64 + Math.floor(Math.random() * 500), 64))
        .expect(200);
      const chat = (await http().post('/api/v1/chats').set(auth(token)).send({ characterId: character.id }).expect(201))
        .body as Chat;
      await http()
        .post(`/api/v1/chats/${chat.id}/messages`)
        .set(auth(token))
        .set('Idempotency-Key', randomUUID())
        .send({ content: 'Where is the signal?' })
        .expect(201);
      await createChat(t(), token);
      return { chat, character };
    }

    /** Every row, in every table of the schema, whose text mentions one of these values. */
    async function rowsMentioning(values: string[]): Promise<Record<string, number>> {
      const tables: { table_name: string }[] = await t().dataSource.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
      );
      expect(tables.length).toBeGreaterThan(10);
      const found: Record<string, number> = {};
      for (const { table_name } of tables) {
        const [{ n }] = await t().dataSource.query(
          `SELECT count(*)::int AS n FROM "${table_name}" x WHERE x::text ILIKE ANY($1)`,
          [values.map((value) => `%${value}%`)],
        );
        if (n > 0) found[table_name] = n;
      }
      return found;
    }

    async function identifiers(user: AuthResponse, chat: Chat, character: CharacterDetail): Promise<string[]> {
      const messages: { id: string }[] = await t().dataSource.query(
        'SELECT m.id FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.user_id = $1',
        [user.user.id],
      );
      const [{ avatar_hash }] = await t().dataSource.query('SELECT avatar_hash FROM characters WHERE id = $1', [
        character.id,
      ]);
      return [user.user.id, user.user.email, chat.id, character.id, avatar_hash, ...messages.map((m) => m.id)];
    }

    it('needs the password, then removes every row of the account from every table, and nothing else', async () => {
      const user = await newUser();
      const bystander = await newUser();
      const { chat, character } = await populate(user);
      const kept = await populate(bystander);
      const values = await identifiers(user, chat, character);
      const before = await rowsMentioning(values);
      // The account really has rows everywhere, so an empty result afterwards means something.
      expect(Object.keys(before).sort()).toEqual(
        expect.arrayContaining([
          'avatars',
          'characters',
          'chats',
          'idempotency_records',
          'messages',
          'personas',
          'rate_limit_windows',
          'realtime_events',
          'realtime_sequences',
          'token_ledger',
          'users',
        ]),
      );
      const bystanderValues = await identifiers(bystander, kept.chat, kept.character);
      const bystanderBefore = await rowsMentioning(bystanderValues);

      const wrong = await http()
        .delete('/api/v1/me')
        .set(auth(user.accessToken))
        .send({ password: 'not the password' })
        .expect(403);
      expect(wrong.body.code).toBe('password_incorrect');
      expect(await rowsMentioning(values)).toEqual(before);
      expect((await http().delete('/api/v1/me').set(auth(user.accessToken)).send({}).expect(400)).body.code).toBe(
        'validation_failed',
      );

      const { client } = await RealtimeClient.connect(base, { token: user.accessToken });
      await http().delete('/api/v1/me').set(auth(user.accessToken)).send({ password: PASSWORD }).expect(204);
      expect(await client.closed).toEqual({ code: 4401, reason: 'unauthorized' });
      expect(await rowsMentioning(values)).toEqual({});
      expect(await rowsMentioning(bystanderValues)).toEqual(bystanderBefore);

      expect((await http().get('/api/v1/me').set(auth(user.accessToken)).expect(401)).body.code).toBe(
        'unauthenticated',
      );
      await http().get('/api/v1/chats').set(auth(user.accessToken)).expect(401);
      // The history page, which checks the account in its own statement: gone is unauthenticated.
      expect(
        (await http().get(`/api/v1/chats/${chat.id}/messages`).set(auth(user.accessToken)).expect(401)).body.code,
      ).toBe('unauthenticated');
      expect((await login(user.user.email, PASSWORD).expect(401)).body.code).toBe('invalid_credentials');
      // The email is free again.
      await registerUser(t(), { email: user.user.email, password: PASSWORD });
    });

    it('keeps an avatar that another character still uses', async () => {
      const owner = await newUser();
      const other = await newUser();
      const png = await plainPng(77, 99);
      const hashes: string[] = [];
      for (const user of [owner, other]) {
        const character = (
          await http().post('/api/v1/me/characters').set(auth(user.accessToken)).send({ name: 'Twin' }).expect(201)
        ).body as CharacterDetail;
        const saved = await http()
          .put(`/api/v1/me/characters/${character.id}/avatar`)
          .set(auth(user.accessToken))
          .set('Content-Type', 'image/png')
          .send(png)
          .expect(200);
        hashes.push(String(saved.body.avatarUrl).split('/').pop()!);
      }
      expect(hashes[0]).toBe(hashes[1]);
      await http().delete('/api/v1/me').set(auth(owner.accessToken)).send({ password: PASSWORD }).expect(204);
      await http().get(`/api/v1/avatars/${hashes[0]}`).expect(200);
    });
  });
});
