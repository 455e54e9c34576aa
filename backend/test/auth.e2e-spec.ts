import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { AuthController } from '../src/auth/auth.controller.js';
import { useTestApp } from './support/test-app.js';
import { registerUser } from './support/factories.js';

describe(AuthController.name, () => {
  const t = useTestApp({ SIGNUP_TOKEN_GRANT: '1234' });

  describe('register', () => {
    it('creates an account with the configured token grant and returns a working token', async () => {
      const email = `Mixed.Case-${randomUUID()}@Example.com`;
      const auth = await registerUser(t(), { email, displayName: 'Ada', locale: 'zh' });
      expect(auth.tokenType).toBe('Bearer');
      expect(auth.user).toMatchObject({
        email: email.toLowerCase(),
        displayName: 'Ada',
        locale: 'zh',
        tokenBalance: 1234,
      });
      const me = await t().http.get('/api/v1/me').set('Authorization', `Bearer ${auth.accessToken}`).expect(200);
      expect(me.body).toEqual(auth.user);
    });

    it('records the grant in the token ledger', async () => {
      const auth = await registerUser(t());
      const rows: Array<{ kind: string; amount: string }> = await t().dataSource.query(
        'SELECT kind, amount FROM token_ledger WHERE user_id = $1',
        [auth.user.id],
      );
      expect(rows).toEqual([{ kind: 'grant', amount: '1234' }]);
    });

    it('stores an argon2id hash, never the password', async () => {
      const auth = await registerUser(t(), { password: 'a very secret phrase' });
      const [row] = await t().dataSource.query('SELECT password_hash FROM users WHERE id = $1', [auth.user.id]);
      expect(row.password_hash).toMatch(/^\$argon2id\$/);
      expect(row.password_hash).not.toContain('a very secret phrase');
    });

    it('answers 409 email_taken for an email already registered, whatever its case', async () => {
      const email = `taken-${randomUUID()}@example.com`;
      await registerUser(t(), { email });
      const response = await t()
        .http.post('/api/v1/auth/register')
        .send({ email: email.toUpperCase(), password: 'another password' })
        .expect(409);
      expect(response.body.code).toBe('email_taken');
    });

    it.each([
      ['a short password', { email: 'short@example.com', password: 'short' }, '/password'],
      ['an invalid email', { email: 'not-an-email', password: 'long enough password' }, '/email'],
      ['an unknown property', { email: 'x@example.com', password: 'long enough password', admin: true }, '/admin'],
      ['a missing password', { email: 'x@example.com' }, '/password'],
    ])('answers 400 validation_failed for %s', async (_name, body, pointer) => {
      const response = await t().http.post('/api/v1/auth/register').send(body).expect(400);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    });
  });

  describe('login', () => {
    it('returns a token for the right password', async () => {
      const email = `login-${randomUUID()}@example.com`;
      await registerUser(t(), { email, password: 'the right password' });
      const response = await t()
        .http.post('/api/v1/auth/login')
        .send({ email, password: 'the right password' })
        .expect(200);
      expect(response.body.user.email).toBe(email);
    });

    it('answers 401 invalid_credentials for a wrong password or an unknown email alike', async () => {
      const email = `login-${randomUUID()}@example.com`;
      await registerUser(t(), { email, password: 'the right password' });
      const wrong = await t()
        .http.post('/api/v1/auth/login')
        .send({ email, password: 'the wrong password' })
        .expect(401);
      const unknown = await t()
        .http.post('/api/v1/auth/login')
        .send({ email: `nobody-${randomUUID()}@example.com`, password: 'whatever it is' })
        .expect(401);
      expect(wrong.body.code).toBe('invalid_credentials');
      expect(unknown.body.code).toBe('invalid_credentials');
    });
  });

  describe('me', () => {
    it('answers 401 unauthenticated without a token', async () => {
      const response = await t().http.get('/api/v1/me').expect(401);
      expect(response.body.code).toBe('unauthenticated');
    });

    it.each([
      [
        'a token signed with another secret',
        () =>
          jwt.sign({ sub: randomUUID() }, 'another-secret-another-secret-another', {
            expiresIn: 60,
            issuer: 'parley',
            audience: 'parley-api',
          }),
      ],
      [
        'a token without an expiry',
        () => jwt.sign({ sub: randomUUID() }, t().config.auth.jwtSecret, { issuer: 'parley', audience: 'parley-api' }),
      ],
      [
        'an expired token',
        () =>
          jwt.sign({ sub: randomUUID(), exp: Math.floor(Date.now() / 1000) - 10 }, t().config.auth.jwtSecret, {
            issuer: 'parley',
            audience: 'parley-api',
          }),
      ],
      [
        'a token for another audience',
        () =>
          jwt.sign({ sub: randomUUID() }, t().config.auth.jwtSecret, {
            expiresIn: 60,
            issuer: 'parley',
            audience: 'elsewhere',
          }),
      ],
      [
        'an unsigned token',
        () =>
          jwt.sign({ sub: randomUUID() }, '', {
            algorithm: 'none',
            expiresIn: 60,
            issuer: 'parley',
            audience: 'parley-api',
          }),
      ],
      ['garbage', () => 'not.a.token'],
    ])('answers 401 for %s', async (_name, makeToken) => {
      const response = await t().http.get('/api/v1/me').set('Authorization', `Bearer ${makeToken()}`).expect(401);
      expect(response.body.code).toBe('unauthenticated');
    });
  });
});
