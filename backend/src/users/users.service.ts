import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { UpdateMeRequest, User } from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import { UserEntity } from './user.entity.js';
import { toUserDto } from './user.mapper.js';
import type { Session } from '../auth/current-user.decorator.js';

@Injectable()
export class UsersService {
  constructor(@InjectRepository(UserEntity) private readonly users: Repository<UserEntity>) {}

  /** The caller's account; the token's version is checked on the row read (no read of its own). */
  async me(session: Session): Promise<User> {
    const user = await this.users.findOneBy({ id: session.userId });
    // A valid token for an account that no longer exists authenticates no one, nor one from
    // before a sign-out-everywhere or a password change.
    if (!user || user.tokenVersion !== session.tokenVersion) throw new AppError('unauthenticated');
    return toUserDto(user);
  }

  async update(userId: string, request: UpdateMeRequest): Promise<User> {
    const change: Partial<Pick<UserEntity, 'displayName' | 'locale'>> = {};
    if (request.displayName !== undefined) change.displayName = request.displayName?.trim() || null;
    if (request.locale !== undefined) change.locale = request.locale;
    const result = await this.users.update({ id: userId }, change);
    if (!result.affected) throw new AppError('unauthenticated');
    // The guard checked the token's version on this route.
    const user = await this.users.findOneBy({ id: userId });
    if (!user) throw new AppError('unauthenticated');
    return toUserDto(user);
  }
}
