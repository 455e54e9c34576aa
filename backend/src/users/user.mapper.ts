import type { User } from '@parley/api-types';
import type { UserEntity } from './user.entity.js';

export function toUserDto(user: UserEntity): User {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    locale: user.locale,
    tokenBalance: user.tokenBalance,
    createdAt: user.createdAt.toISOString(),
  };
}
