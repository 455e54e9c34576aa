import type { DataSource } from 'typeorm';
import { BillingService } from '../billing/billing.service.js';
import { rowsOf } from '../database/sql.js';
import { useTestDatabase } from '../../test/support/test-database.js';
import { AuthService } from './auth.service.js';
import { issuePasswordReset } from './password-reset.js';
import { PasswordService } from './password.service.js';
import { TokenService } from './token.service.js';
import { TokenVersions } from './token-versions.js';

// Accounts against a real PostgreSQL: the unique email, the grant in the same transaction, and
// the token version that sign-out-everywhere and a password reset raise.
const db = useTestDatabase({ SIGNUP_TOKEN_GRANT: '500' });

describe(AuthService.name, () => {
  let dataSource: DataSource;
  let auth: AuthService;
  let tokens: TokenService;
  let versions: TokenVersions;
  beforeAll(() => {
    const { config } = db();
    dataSource = db().dataSource;
    tokens = new TokenService(config);
    versions = new TokenVersions(dataSource);
    auth = new AuthService(dataSource, config, new PasswordService(), tokens, new BillingService(dataSource));
  });

  let n = 0;
  const email = () => `person-${++n}@example.com`;
  const query = (sql: string, parameters: unknown[]) => rowsOf<unknown>(dataSource, sql, parameters);

  describe('register', () => {
    it('creates the account with the signup grant, recorded in the ledger, and signs it in', async () => {
      const address = email();
      const response = await auth.register({ email: `  ${address.toUpperCase()} `, password: 'correct horse battery' });
      expect(response).toMatchObject({
        tokenType: 'Bearer',
        user: { email: address, tokenBalance: 500, displayName: null, locale: 'en' },
      });
      const session = tokens.session(response.accessToken);
      expect(session).toMatchObject({ user: { id: response.user.id }, version: 0 });
      await expect(versions.check(response.user.id, session.version)).resolves.toBeUndefined();
      expect(
        await rowsOf(dataSource, 'SELECT kind, amount FROM token_ledger WHERE user_id = $1', [response.user.id]),
      ).toEqual([{ kind: 'grant', amount: '500' }]);
    });

    it('keeps the display name trimmed, an empty one as none, and the locale given', async () => {
      const named = await auth.register({
        email: email(),
        password: 'correct horse battery',
        displayName: '  Ada ',
        locale: 'zh',
      });
      expect(named.user).toMatchObject({ displayName: 'Ada', locale: 'zh' });
      const blank = await auth.register({ email: email(), password: 'correct horse battery', displayName: '   ' });
      expect(blank.user.displayName).toBeNull();
    });

    it('refuses an email already taken, in any case, and leaves no second account or grant', async () => {
      const address = email();
      await auth.register({ email: address, password: 'correct horse battery' });
      await expect(auth.register({ email: address.toUpperCase(), password: 'another password' })).rejects.toMatchObject(
        {
          code: 'email_taken',
        },
      );
      expect(await rowsOf(dataSource, 'SELECT count(*)::int AS n FROM users WHERE email = $1', [address])).toEqual([
        { n: 1 },
      ]);
    });
  });

  it('lets a database error other than the taken email through as it is', async () => {
    const refused = auth.register({ email: email(), password: 'correct horse battery', displayName: 'x'.repeat(81) });
    await expect(refused).rejects.not.toMatchObject({ code: 'email_taken' });
    await expect(refused).rejects.toThrow();
  });

  describe('login', () => {
    it('signs in with the password, the email in any case', async () => {
      const address = email();
      const registered = await auth.register({ email: address, password: 'correct horse battery' });
      const response = await auth.login({ email: ` ${address.toUpperCase()}`, password: 'correct horse battery' });
      expect(response.user.id).toBe(registered.user.id);
      expect(tokens.session(response.accessToken).user.id).toBe(registered.user.id);
    });

    it('refuses a wrong password and an unknown email alike', async () => {
      const address = email();
      await auth.register({ email: address, password: 'correct horse battery' });
      await expect(auth.login({ email: address, password: 'correct horse battery!' })).rejects.toMatchObject({
        code: 'invalid_credentials',
      });
      await expect(auth.login({ email: email(), password: 'correct horse battery' })).rejects.toMatchObject({
        code: 'invalid_credentials',
      });
    });
  });

  describe('token versions', () => {
    it('refuses every token issued before sign-out-everywhere raised the version', async () => {
      const registered = await auth.register({ email: email(), password: 'correct horse battery' });
      const id = registered.user.id;
      await rowsOf(dataSource, 'UPDATE users SET token_version = token_version + 1 WHERE id = $1', [id]);
      await expect(versions.check(id, tokens.session(registered.accessToken).version)).rejects.toMatchObject({
        code: 'unauthenticated',
      });
      const fresh = await auth.login({ email: registered.user.email, password: 'correct horse battery' });
      expect(tokens.session(fresh.accessToken).version).toBe(1);
      await expect(versions.check(id, 1)).resolves.toBeUndefined();
    });

    it('refuses the tokens of a deleted account', async () => {
      const registered = await auth.register({ email: email(), password: 'correct horse battery' });
      await rowsOf(dataSource, 'DELETE FROM users WHERE id = $1', [registered.user.id]);
      expect(await versions.current(registered.user.id)).toBeNull();
      await expect(versions.check(registered.user.id, 0)).rejects.toMatchObject({ code: 'unauthenticated' });
    });
  });

  describe('resetPassword', () => {
    it('sets the new password, refuses earlier tokens and signs in; the reset token works once', async () => {
      const address = email();
      await auth.register({ email: email(), password: 'correct horse battery' });
      const registered = await auth.register({ email: address, password: 'correct horse battery' });
      // The operator may type the address as the person gave it.
      const token = await issuePasswordReset(query, ` ${address.toUpperCase()} `);
      if (token === null) throw new Error('expected a reset token');
      const response = await auth.resetPassword({ token, newPassword: 'a brand new password' });
      expect(response.user.id).toBe(registered.user.id);
      expect(tokens.session(response.accessToken).version).toBe(1);
      await expect(versions.check(registered.user.id, 0)).rejects.toMatchObject({ code: 'unauthenticated' });
      await expect(auth.login({ email: address, password: 'correct horse battery' })).rejects.toMatchObject({
        code: 'invalid_credentials',
      });
      await expect(auth.login({ email: address, password: 'a brand new password' })).resolves.toMatchObject({
        user: { id: registered.user.id },
      });
      await expect(auth.resetPassword({ token, newPassword: 'yet another password' })).rejects.toMatchObject({
        code: 'reset_token_invalid',
      });
    });

    it('refuses an expired token, a replaced one and an unknown one', async () => {
      const address = email();
      await auth.register({ email: address, password: 'correct horse battery' });
      const expired = await issuePasswordReset(query, address);
      await rowsOf(
        dataSource,
        `UPDATE users SET password_reset_expires_at = now() - interval '1 second' WHERE email = $1`,
        [address],
      );
      await expect(auth.resetPassword({ token: expired!, newPassword: 'a brand new password' })).rejects.toMatchObject({
        code: 'reset_token_invalid',
      });
      const replaced = await issuePasswordReset(query, address);
      const current = await issuePasswordReset(query, address);
      await expect(auth.resetPassword({ token: replaced!, newPassword: 'a brand new password' })).rejects.toMatchObject(
        {
          code: 'reset_token_invalid',
        },
      );
      await expect(auth.resetPassword({ token: 'unknown', newPassword: 'a brand new password' })).rejects.toMatchObject(
        {
          code: 'reset_token_invalid',
        },
      );
      await expect(auth.resetPassword({ token: current!, newPassword: 'a brand new password' })).resolves.toBeDefined();
      expect(await issuePasswordReset(query, email())).toBeNull();
    });
  });
});

describe(PasswordService.name, () => {
  const passwords = new PasswordService();

  it('verifies the password its hash was made from, and no other', async () => {
    const hash = await passwords.hash('correct horse battery');
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await passwords.verify(hash, 'correct horse battery')).toBe(true);
    expect(await passwords.verify(hash, 'correct horse batter')).toBe(false);
  });

  it('refuses when there is no hash (an unknown email), even for the decoy password, and a malformed hash', async () => {
    expect(await passwords.verify(undefined, 'decoy password for timing')).toBe(false);
    expect(await passwords.verify('not a hash', 'correct horse battery')).toBe(false);
  });
});
