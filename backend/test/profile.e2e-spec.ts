import { UsersController } from '../src/users/users.controller.js';
import { useTestApp } from './support/test-app.js';
import { registerUser } from './support/factories.js';

describe(UsersController.name, () => {
  const t = useTestApp();

  describe('update', () => {
    it('changes the display name and locale, and leaves out fields alone', async () => {
      const { accessToken } = await registerUser(t());
      const auth = { Authorization: `Bearer ${accessToken}` };
      const renamed = await t().http.patch('/api/v1/me').set(auth).send({ displayName: '  星际旅人  ' }).expect(200);
      expect(renamed.body.displayName).toBe('星际旅人');
      const relocated = await t().http.patch('/api/v1/me').set(auth).send({ locale: 'zh' }).expect(200);
      expect(relocated.body).toMatchObject({ displayName: '星际旅人', locale: 'zh' });
      expect((await t().http.get('/api/v1/me').set(auth).expect(200)).body.displayName).toBe('星际旅人');
      const cleared = await t().http.patch('/api/v1/me').set(auth).send({ displayName: '   ' }).expect(200);
      expect(cleared.body.displayName).toBeNull();
    });

    it('refuses an empty change, unknown fields and a name too long', async () => {
      const { accessToken } = await registerUser(t());
      const auth = { Authorization: `Bearer ${accessToken}` };
      for (const body of [{}, { email: 'x@example.test' }, { displayName: 'x'.repeat(81) }, { locale: 'fr' }]) {
        const response = await t().http.patch('/api/v1/me').set(auth).send(body).expect(400);
        expect(response.body.code).toBe('validation_failed');
      }
      await t().http.patch('/api/v1/me').send({ displayName: 'x' }).expect(401);
    });
  });
});
