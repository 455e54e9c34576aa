import { Body, Controller, Get, Patch } from '@nestjs/common';
import type { UpdateMeRequest, User } from '@parley/api-types';
import { ContractOperation } from '../contract/contract-operation.decorator.js';
import { CurrentUser, type AuthenticatedUser } from '../auth/current-user.decorator.js';
import { UsersService } from './users.service.js';

@Controller('api/v1/me')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  @ContractOperation('getMe')
  me(@CurrentUser() user: AuthenticatedUser): Promise<User> {
    return this.users.me(user.id);
  }

  @Patch()
  @ContractOperation('updateMe')
  update(@CurrentUser() user: AuthenticatedUser, @Body() body: UpdateMeRequest): Promise<User> {
    return this.users.update(user.id, body);
  }
}
