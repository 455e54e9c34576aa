import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppError } from '../errors/app-error.js';

/**
 * Whether a token's version is still the account's: sign-out-everywhere and a password change
 * raise the version, so every token issued before is refused; a deleted account has none, so
 * its tokens authenticate no one. One primary-key read per authenticated request.
 */
@Injectable()
export class TokenVersions {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async current(userId: string): Promise<number | null> {
    const rows: { token_version: number }[] = await this.dataSource.query(
      'SELECT token_version FROM users WHERE id = $1',
      [userId],
    );
    return rows[0]?.token_version ?? null;
  }

  /** Throws `unauthenticated` unless the account exists and is still at this version. */
  async check(userId: string, version: number): Promise<void> {
    if ((await this.current(userId)) !== version) throw new AppError('unauthenticated');
  }
}
