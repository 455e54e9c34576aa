import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { rowsOf } from '../database/sql.js';
import { TokenLedgerEntity } from './token-ledger.entity.js';
import { balanceAfterRelease, releaseCtes } from './billing.sql.js';

/** Balances and the ledger, for what happens outside a turn's own statements. */
@Injectable()
export class BillingService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async balance(userId: string): Promise<number> {
    const [row] = await rowsOf<{ token_balance: string }>(
      this.dataSource,
      'SELECT token_balance FROM users WHERE id = $1',
      [userId],
    );
    return Number(row?.token_balance ?? 0);
  }

  /** A new account's starting balance, recorded in the ledger (inside the account's transaction). */
  async grant(manager: EntityManager, userId: string, amount: number): Promise<void> {
    if (amount > 0) await manager.insert(TokenLedgerEntity, { userId, kind: 'grant', amount, messageId: null });
  }

  /** Gives a message's reservation back (once: a second release is a no-op); the balance after. */
  async release(messageId: string, userId: string): Promise<number> {
    const [row] = await rowsOf<{ token_balance: string }>(
      this.dataSource,
      `WITH ${releaseCtes('(SELECT $1::uuid)')} SELECT ${balanceAfterRelease('$2::uuid')} AS token_balance`,
      [messageId, userId],
    );
    return Number(row?.token_balance ?? 0);
  }
}
