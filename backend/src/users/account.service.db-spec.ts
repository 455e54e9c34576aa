import { jest } from '@jest/globals';
import { AuthService } from '../auth/auth.service.js';
import { PasswordService } from '../auth/password.service.js';
import { TokenService } from '../auth/token.service.js';
import { TokenVersions } from '../auth/token-versions.js';
import { BillingService } from '../billing/billing.service.js';
import type { RealtimeHub } from '../realtime/realtime-hub.js';
import { useTestDatabase } from '../../test/support/test-database.js';
import { AccountService } from './account.service.js';

// A person's own account against a real PostgreSQL: changing the password needs the current one,
// and it and sign-out-everywhere refuse every token issued before.
const db = useTestDatabase();

describe(AccountService.name, () => {
  let auth: AuthService;
  let tokens: TokenService;
  let versions: TokenVersions;
  let account: AccountService;
  const closeUser = jest.fn();
  beforeAll(() => {
    const { config, dataSource } = db();
    const passwords = new PasswordService();
    tokens = new TokenService(config);
    versions = new TokenVersions(dataSource);
    auth = new AuthService(dataSource, config, passwords, tokens, new BillingService(dataSource));
    account = new AccountService(dataSource, passwords, auth, { closeUser } as unknown as RealtimeHub);
  });

  let n = 0;
  const register = () => auth.register({ email: `account-${++n}@example.com`, password: 'correct horse battery' });

  describe('changePassword', () => {
    it('refuses without the current password and changes nothing', async () => {
      const { user, accessToken } = await register();
      await expect(
        account.changePassword(user.id, { currentPassword: 'wrong', newPassword: 'a brand new password' }),
      ).rejects.toMatchObject({ code: 'password_incorrect' });
      await expect(versions.check(user.id, tokens.session(accessToken).version)).resolves.toBeUndefined();
      await expect(auth.login({ email: user.email, password: 'correct horse battery' })).resolves.toBeDefined();
    });

    it('sets the new password, refuses the earlier tokens and answers a token at the new version', async () => {
      const { user, accessToken } = await register();
      closeUser.mockClear();
      const response = await account.changePassword(user.id, {
        currentPassword: 'correct horse battery',
        newPassword: 'a brand new password',
      });
      await expect(versions.check(user.id, tokens.session(accessToken).version)).rejects.toMatchObject({
        code: 'unauthenticated',
      });
      await expect(versions.check(user.id, tokens.session(response.accessToken).version)).resolves.toBeUndefined();
      await expect(auth.login({ email: user.email, password: 'correct horse battery' })).rejects.toMatchObject({
        code: 'invalid_credentials',
      });
      await expect(auth.login({ email: user.email, password: 'a brand new password' })).resolves.toBeDefined();
      expect(closeUser).toHaveBeenCalledWith(user.id);
    });
  });

  describe('signOutEverywhere', () => {
    it('refuses every token issued before, and a token issued after is accepted', async () => {
      const { user, accessToken } = await register();
      await account.signOutEverywhere(user.id);
      await expect(versions.check(user.id, tokens.session(accessToken).version)).rejects.toMatchObject({
        code: 'unauthenticated',
      });
      const again = await auth.login({ email: user.email, password: 'correct horse battery' });
      await expect(versions.check(user.id, tokens.session(again.accessToken).version)).resolves.toBeUndefined();
    });

    it('refuses an account that no longer exists', async () => {
      const { user } = await register();
      await account.deleteAccount(user.id, 'correct horse battery');
      await expect(account.signOutEverywhere(user.id)).rejects.toMatchObject({ code: 'unauthenticated' });
    });
  });
});
