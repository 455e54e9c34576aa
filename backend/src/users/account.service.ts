import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AuthResponse, ChangePasswordRequest } from '@parley/api-types';
import { AuthService } from '../auth/auth.service.js';
import { PasswordService } from '../auth/password.service.js';
import { rowsOf } from '../database/sql.js';
import { AppError } from '../errors/app-error.js';
import { RealtimeHub } from '../realtime/realtime-hub.js';
import { UserEntity } from './user.entity.js';

/**
 * What a person does to their own account: change the password, sign out on every device,
 * delete the account. Changing the password and signing out everywhere raise the account's
 * token version, which the auth guard and the realtime hello check, so every earlier token is
 * refused; this instance also closes the account's open sockets.
 */
@Injectable()
export class AccountService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly passwords: PasswordService,
    private readonly auth: AuthService,
    private readonly hub: RealtimeHub,
  ) {}

  async changePassword(userId: string, request: ChangePasswordRequest): Promise<AuthResponse> {
    await this.confirm(userId, request.currentPassword);
    const passwordHash = await this.passwords.hash(request.newPassword);
    const rows = await rowsOf<{ id: string }>(
      this.dataSource,
      `UPDATE users SET password_hash = $2, token_version = token_version + 1,
              password_reset_hash = NULL, password_reset_expires_at = NULL, updated_at = now()
        WHERE id = $1 RETURNING id`,
      [userId, passwordHash],
    );
    if (rows.length === 0) throw new AppError('unauthenticated');
    this.hub.closeUser(userId);
    return this.auth.authResponse(await this.user(userId));
  }

  async signOutEverywhere(userId: string): Promise<void> {
    const rows = await rowsOf<{ id: string }>(
      this.dataSource,
      'UPDATE users SET token_version = token_version + 1, updated_at = now() WHERE id = $1 RETURNING id',
      [userId],
    );
    if (rows.length === 0) throw new AppError('unauthenticated');
    this.hub.closeUser(userId);
  }

  /**
   * Deletes the account and everything that is its: chats (with their messages, tool calls and
   * breaker state, by cascade), its own characters and the avatars no other character uses,
   * personas, ledger and idempotency records (by cascade from users), and the realtime events
   * and rate-limit window, which hold the user's id without a foreign key. Chats go before the
   * characters they use (that foreign key restricts).
   */
  async deleteAccount(userId: string, password: string): Promise<void> {
    await this.confirm(userId, password);
    await this.dataSource.transaction(async (manager) => {
      const locked = await rowsOf<{ id: string }>(manager, 'SELECT id FROM users WHERE id = $1 FOR UPDATE', [userId]);
      if (locked.length === 0) throw new AppError('unauthenticated');
      const avatars = await rowsOf<{ avatar_hash: string }>(
        manager,
        'SELECT DISTINCT avatar_hash FROM characters WHERE owner_id = $1 AND avatar_hash IS NOT NULL',
        [userId],
      );
      await manager.query('DELETE FROM realtime_events WHERE user_id = $1', [userId]);
      await manager.query('DELETE FROM realtime_sequences WHERE user_id = $1', [userId]);
      await manager.query('DELETE FROM rate_limit_windows WHERE key = $1', [`turns:${userId}`]);
      await manager.query('DELETE FROM chats WHERE user_id = $1', [userId]);
      await manager.query('DELETE FROM characters WHERE owner_id = $1', [userId]);
      await manager.query('DELETE FROM users WHERE id = $1', [userId]);
      await manager.query(
        `DELETE FROM avatars a WHERE a.hash = ANY($1::varchar[])
            AND NOT EXISTS (SELECT 1 FROM characters c WHERE c.avatar_hash = a.hash)`,
        [avatars.map((row) => row.avatar_hash)],
      );
    });
    this.hub.closeUser(userId);
  }

  private async confirm(userId: string, password: string): Promise<void> {
    const user = await this.dataSource.getRepository(UserEntity).findOneBy({ id: userId });
    if (!user) throw new AppError('unauthenticated');
    if (!(await this.passwords.verify(user.passwordHash, password))) throw new AppError('password_incorrect');
  }

  private async user(userId: string): Promise<UserEntity> {
    const user = await this.dataSource.getRepository(UserEntity).findOneBy({ id: userId });
    if (!user) throw new AppError('unauthenticated');
    return user;
  }
}
