import { DataSource } from 'typeorm';
import { MessagesRepository } from '../src/chats/messages.repository.js';
import { dataSourceOptions, runMigrations } from '../src/database/data-source.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';

describe(MessagesRepository.name, () => {
  const t = useTestApp({ DATABASE_POOL_MAX: '20' });

  describe('append', () => {
    it('gives 100 concurrent inserts into one chat unique, gap-free seq values without deadlock', async () => {
      const { accessToken } = await registerUser(t());
      const chat = await createChat(t(), accessToken);
      const repository = t().app.get(MessagesRepository);
      const results = await Promise.allSettled(
        Array.from({ length: 100 }, (_, i) =>
          t().dataSource.transaction((manager) =>
            repository.append(manager, chat.id, [{ role: 'user', content: `concurrent ${i}`, status: 'complete' }]),
          ),
        ),
      );
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      const rows: Array<{ seq: number; content: string }> = await t().dataSource.query(
        'SELECT seq, content FROM messages WHERE chat_id = $1 ORDER BY seq',
        [chat.id],
      );
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 101 }, (_, i) => i + 1));
      expect(new Set(rows.slice(1).map((r) => r.content)).size).toBe(100);
      const [{ last_seq }] = await t().dataSource.query('SELECT last_seq FROM chats WHERE id = $1', [chat.id]);
      expect(last_seq).toBe(101);
    });

    it('returns its numbers when the transaction rolls back, leaving no gap', async () => {
      const { accessToken } = await registerUser(t());
      const chat = await createChat(t(), accessToken);
      const repository = t().app.get(MessagesRepository);
      await expect(
        t().dataSource.transaction(async (manager) => {
          await repository.append(manager, chat.id, [{ role: 'user', content: 'lost', status: 'complete' }]);
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      await t().dataSource.transaction((manager) =>
        repository.append(manager, chat.id, [{ role: 'user', content: 'kept', status: 'complete' }]),
      );
      const rows = await t().dataSource.query('SELECT seq, content FROM messages WHERE chat_id = $1 ORDER BY seq', [
        chat.id,
      ]);
      expect(rows.map((r: { seq: number }) => r.seq)).toEqual([1, 2]);
      expect(rows[1].content).toBe('kept');
    });

    it('refuses to run outside a transaction', async () => {
      const repository = t().app.get(MessagesRepository);
      await expect(
        repository.append(t().dataSource.manager, '00000000-0000-0000-0000-000000000000', []),
      ).rejects.toThrow(/inside a transaction/);
    });
  });

  describe('schema', () => {
    it('matches the entities exactly after the migrations (no migration left to generate)', async () => {
      const { upQueries } = await t().dataSource.driver.createSchemaBuilder().log();
      expect(upQueries.map((q) => q.query)).toEqual([]);
    });

    it('lets instances starting together migrate the same database once', async () => {
      const url = t().databaseUrl;
      const results = await Promise.all([1, 2, 3].map(() => runMigrations(url, t().config.database)));
      expect(results.flat()).toEqual([]);
    });

    it('reports no pending migration once started', async () => {
      const direct = new DataSource(dataSourceOptions(t().databaseUrl, t().config.database));
      await direct.initialize();
      try {
        expect(await direct.showMigrations()).toBe(false);
      } finally {
        await direct.destroy();
      }
    });
  });
});
