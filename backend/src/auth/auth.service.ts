import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AuthResponse, LoginRequest, RegisterRequest, ResetPasswordRequest } from '@parley/api-types';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { isUniqueViolation } from '../errors/database-errors.js';
import { UserEntity } from '../users/user.entity.js';
import { toUserDto } from '../users/user.mapper.js';
import { BillingService } from '../billing/billing.service.js';
import { PasswordService } from './password.service.js';
import { TokenService } from './token.service.js';
import { hashResetToken } from './password-reset.js';
import { rowsOf } from '../database/sql.js';

@Injectable()
export class AuthService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly passwords: PasswordService,
    private readonly tokens: TokenService,
    private readonly billing: BillingService,
  ) {}

  async register(request: RegisterRequest): Promise<AuthResponse> {
    const passwordHash = await this.passwords.hash(request.password);
    const grant = this.config.auth.signupTokenGrant;
    let user: UserEntity;
    try {
      user = await this.dataSource.transaction(async (manager) => {
        const created = await manager.save(
          manager.create(UserEntity, {
            email: normalizeEmail(request.email),
            passwordHash,
            displayName: request.displayName?.trim() || null,
            locale: request.locale ?? 'en',
            tokenBalance: grant,
          }),
        );
        await this.billing.grant(manager, created.id, grant);
        return created;
      });
    } catch (error) {
      if (isUniqueViolation(error, 'users_email_key')) throw new AppError('email_taken');
      throw error;
    }
    return this.authResponse(user);
  }

  async login(request: LoginRequest): Promise<AuthResponse> {
    const user = await this.dataSource.getRepository(UserEntity).findOneBy({ email: normalizeEmail(request.email) });
    if (!(await this.passwords.verify(user?.passwordHash, request.password)) || !user) {
      throw new AppError('invalid_credentials');
    }
    return this.authResponse(user);
  }

  /**
   * Consumes a one-time reset token (see password-reset.ts): sets the new password, refuses
   * every token issued before, and signs the account in. Unknown, expired, used or replaced
   * tokens all answer the same.
   */
  async resetPassword(request: ResetPasswordRequest): Promise<AuthResponse> {
    const passwordHash = await this.passwords.hash(request.newPassword);
    const rows = await rowsOf<{ id: string }>(
      this.dataSource,
      `UPDATE users SET password_hash = $2, token_version = token_version + 1,
              password_reset_hash = NULL, password_reset_expires_at = NULL, updated_at = now()
        WHERE password_reset_hash = $1 AND password_reset_expires_at > now()
        RETURNING id`,
      [hashResetToken(request.token), passwordHash],
    );
    const id = rows[0]?.id;
    if (!id) throw new AppError('reset_token_invalid');
    return this.authResponse(await this.dataSource.getRepository(UserEntity).findOneByOrFail({ id }));
  }

  /** A token at the account's current version, and the account. */
  authResponse(user: UserEntity): AuthResponse {
    const { accessToken, expiresIn } = this.tokens.issue(user.id, user.tokenVersion);
    return { accessToken, tokenType: 'Bearer', expiresIn, user: toUserDto(user) };
  }
}

function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
