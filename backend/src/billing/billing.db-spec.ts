import type { DataSource } from 'typeorm';
import { rowsOf } from '../database/sql.js';
import { useTestDatabase } from '../../test/support/test-database.js';
import { balanceOf, insertReply, insertUser, ledgerOf } from '../../test/support/db-rows.js';
import { BillingService } from './billing.service.js';
import { balanceAfterRelease, releaseCtes, reservationLedgerCte, reserveCte, settleCtes } from './billing.sql.js';

// Billing's statements against a real PostgreSQL: the balance rules hold in SQL (conditional
// updates, the ledger's unique index), which only a database can show.
const db = useTestDatabase();

/** Reserves `amount` for the message's segment as a turn does; whether the balance covered it. */
async function reserve(dataSource: DataSource, user: string, message: string, amount: number, segment = 0) {
  const [row] = await rowsOf<{ reserved: number }>(
    dataSource,
    `WITH ${reserveCte('$1', '$2')}, ${reservationLedgerCte('$1', '$2', '(SELECT $3::uuid WHERE EXISTS (SELECT 1 FROM reserved))', '$4::int')}
     SELECT count(*)::int AS reserved FROM reserved`,
    [user, amount, message, segment],
  );
  return row!.reserved === 1;
}

/** Settles the message's segment, giving back `refund`; the balance after, or none when `when` did not hold. */
async function settle(
  dataSource: DataSource,
  user: string,
  message: string,
  refund: number,
  segment = 0,
  when = 'true',
) {
  const [row] = await rowsOf<{ new_balance: string }>(
    dataSource,
    `WITH ${settleCtes({ user: '$1', message: '$2', refund: '$3', when, segment: '$4::int' })} SELECT new_balance FROM charged`,
    [user, message, refund, segment],
  );
  return row === undefined ? undefined : Number(row.new_balance);
}

describe('billing', () => {
  let dataSource: DataSource;
  beforeAll(() => {
    dataSource = db().dataSource;
  });

  describe('reserveCte', () => {
    it('reserves when the balance equals the reservation, leaving zero', async () => {
      const user = await insertUser(dataSource, 100);
      const message = await insertReply(dataSource, user);
      expect(await reserve(dataSource, user, message, 100)).toBe(true);
      expect(await balanceOf(dataSource, user)).toBe(0);
      expect(await ledgerOf(dataSource, message)).toEqual(['reservation 0 -100']);
    });

    it('reserves nothing and records nothing when the balance is one short', async () => {
      const user = await insertUser(dataSource, 99);
      const message = await insertReply(dataSource, user);
      expect(await reserve(dataSource, user, message, 100)).toBe(false);
      expect(await balanceOf(dataSource, user)).toBe(99);
      expect(await ledgerOf(dataSource, message)).toEqual([]);
    });

    it('takes only from the user it names', async () => {
      const user = await insertUser(dataSource, 500);
      const other = await insertUser(dataSource, 500);
      const message = await insertReply(dataSource, user);
      await reserve(dataSource, user, message, 200);
      expect(await balanceOf(dataSource, user)).toBe(300);
      expect(await balanceOf(dataSource, other)).toBe(500);
    });

    it('lets concurrent reservations take no more than the balance', async () => {
      const user = await insertUser(dataSource, 250);
      const messages = await Promise.all([1, 2, 3].map(() => insertReply(dataSource, user)));
      const results = await Promise.all(messages.map((m) => reserve(dataSource, user, m, 100)));
      expect(results.filter(Boolean)).toHaveLength(2);
      expect(await balanceOf(dataSource, user)).toBe(50);
    });

    it('records the reservation on the segment it is for', async () => {
      const user = await insertUser(dataSource, 100);
      const message = await insertReply(dataSource, user);
      await reserve(dataSource, user, message, 30, 2);
      expect(await ledgerOf(dataSource, message)).toEqual(['reservation 2 -30']);
    });
  });

  describe('settleCtes', () => {
    it('gives back the refund and records it as the settlement', async () => {
      const user = await insertUser(dataSource, 100);
      const message = await insertReply(dataSource, user);
      await reserve(dataSource, user, message, 100);
      expect(await settle(dataSource, user, message, 40)).toBe(40);
      expect(await balanceOf(dataSource, user)).toBe(40);
      expect(await ledgerOf(dataSource, message)).toEqual(['reservation 0 -100', 'settlement 0 40']);
    });

    it('charges a reply that cost more than its reservation, never below zero', async () => {
      const user = await insertUser(dataSource, 110);
      const message = await insertReply(dataSource, user);
      await reserve(dataSource, user, message, 100);
      expect(await settle(dataSource, user, message, -50)).toBe(0);
      // The ledger records what was taken (the 10 left), not what was owed.
      expect(await ledgerOf(dataSource, message)).toEqual(['reservation 0 -100', 'settlement 0 -10']);
    });

    it('charges the whole overrun when the balance covers it', async () => {
      const user = await insertUser(dataSource, 200);
      const message = await insertReply(dataSource, user);
      await reserve(dataSource, user, message, 100);
      expect(await settle(dataSource, user, message, -30)).toBe(70);
    });

    it('changes nothing when its condition does not hold', async () => {
      const user = await insertUser(dataSource, 100);
      const message = await insertReply(dataSource, user);
      await reserve(dataSource, user, message, 100);
      expect(await settle(dataSource, user, message, 40, 0, 'false')).toBeUndefined();
      expect(await balanceOf(dataSource, user)).toBe(0);
      expect(await ledgerOf(dataSource, message)).toEqual(['reservation 0 -100']);
    });

    it('settles a segment once, whatever the race: the second statement fails and changes nothing', async () => {
      const user = await insertUser(dataSource, 100);
      const message = await insertReply(dataSource, user);
      await reserve(dataSource, user, message, 100);
      const results = await Promise.allSettled([
        settle(dataSource, user, message, 40),
        settle(dataSource, user, message, 40),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      // The ledger's unique index refuses the second settlement, which undoes its whole statement.
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: '23505' } });
      expect(await balanceOf(dataSource, user)).toBe(40);
      expect(await ledgerOf(dataSource, message)).toEqual(['reservation 0 -100', 'settlement 0 40']);
    });

    it('settles each segment of a continued reply on its own', async () => {
      const user = await insertUser(dataSource, 100);
      const message = await insertReply(dataSource, user);
      await reserve(dataSource, user, message, 50, 0);
      await settle(dataSource, user, message, 20, 0);
      await reserve(dataSource, user, message, 50, 1);
      expect(await settle(dataSource, user, message, 5, 1)).toBe(25);
      expect(await ledgerOf(dataSource, message)).toEqual([
        'reservation 0 -50',
        'settlement 0 20',
        'reservation 1 -50',
        'settlement 1 5',
      ]);
    });
  });

  describe('releaseCtes and BillingService.release', () => {
    let billing: BillingService;
    beforeAll(() => {
      billing = new BillingService(dataSource);
    });

    it('gives a reservation back once: a second release is a no-op', async () => {
      const user = await insertUser(dataSource, 100);
      const message = await insertReply(dataSource, user);
      await reserve(dataSource, user, message, 60);
      expect(await billing.release(message, user)).toBe(100);
      expect(await billing.release(message, user)).toBe(100);
      expect(await ledgerOf(dataSource, message)).toEqual(['release 0 60', 'reservation 0 -60']);
    });

    it('releases concurrently only once', async () => {
      const user = await insertUser(dataSource, 100);
      const message = await insertReply(dataSource, user);
      await reserve(dataSource, user, message, 60);
      await Promise.all([billing.release(message, user), billing.release(message, user)]);
      expect(await balanceOf(dataSource, user)).toBe(100);
    });

    it('leaves a settled segment charged and releases only the open one', async () => {
      const user = await insertUser(dataSource, 100);
      const message = await insertReply(dataSource, user);
      await reserve(dataSource, user, message, 50, 0);
      await settle(dataSource, user, message, 10, 0);
      await reserve(dataSource, user, message, 30, 1);
      expect(await balanceOf(dataSource, user)).toBe(30);
      expect(await billing.release(message, user)).toBe(60);
      expect(await ledgerOf(dataSource, message)).toEqual([
        'reservation 0 -50',
        'settlement 0 10',
        'release 1 30',
        'reservation 1 -30',
      ]);
    });

    it('answers the balance as it is when there is nothing to release', async () => {
      const user = await insertUser(dataSource, 70);
      const message = await insertReply(dataSource, user);
      expect(await billing.release(message, user)).toBe(70);
    });

    it('credits each user the sum of their released reservations', async () => {
      const [a, b] = [await insertUser(dataSource, 100), await insertUser(dataSource, 100)];
      const a1 = await insertReply(dataSource, a);
      const a2 = await insertReply(dataSource, a);
      const b1 = await insertReply(dataSource, b);
      await reserve(dataSource, a, a1, 10);
      await reserve(dataSource, a, a2, 20);
      await reserve(dataSource, b, b1, 40);
      const rows = await rowsOf<{ a: string; b: string }>(
        dataSource,
        `WITH ${releaseCtes('(SELECT unnest($1::uuid[]))')} SELECT ${balanceAfterRelease('$2::uuid')} AS a, ${balanceAfterRelease('$3::uuid')} AS b`,
        [[a1, a2, b1], a, b],
      );
      expect(rows).toEqual([{ a: '100', b: '100' }]);
    });
  });

  describe(BillingService.name, () => {
    it('reads the balance, and 0 for an unknown user', async () => {
      const billing = new BillingService(dataSource);
      const user = await insertUser(dataSource, 1234);
      expect(await billing.balance(user)).toBe(1234);
      expect(await billing.balance('00000000-0000-4000-8000-000000000000')).toBe(0);
    });

    it('records a grant in the ledger, and nothing for a zero grant', async () => {
      const billing = new BillingService(dataSource);
      const user = await insertUser(dataSource);
      await billing.grant(dataSource.manager, user, 0);
      await billing.grant(dataSource.manager, user, 500);
      const rows = await rowsOf<{ kind: string; amount: string; message_id: string | null }>(
        dataSource,
        'SELECT kind, amount, message_id FROM token_ledger WHERE user_id = $1',
        [user],
      );
      expect(rows).toEqual([{ kind: 'grant', amount: '500', message_id: null }]);
    });
  });
});
