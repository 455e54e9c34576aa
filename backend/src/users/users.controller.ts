import { Body, Controller, Delete, Get, HttpCode, Patch, Post } from '@nestjs/common';
import type { AuthResponse, ChangePasswordRequest, DeleteMeRequest, UpdateMeRequest, User } from '@parley/api-types';
import { ContractOperation } from '../contract/contract-operation.decorator.js';
import {
  CurrentSession,
  CurrentUser,
  TokenVersionCheckedByHandler,
  type AuthenticatedUser,
  type Session,
} from '../auth/current-user.decorator.js';
import { AccountService } from './account.service.js';
import { UsersService } from './users.service.js';

@Controller('api/v1/me')
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly account: AccountService,
  ) {}

  // Polled by the app (the balance): the token's version is checked on the account row it reads.
  @Get()
  @ContractOperation('getMe')
  @TokenVersionCheckedByHandler()
  me(@CurrentSession() session: Session): Promise<User> {
    return this.users.me(session);
  }

  @Patch()
  @ContractOperation('updateMe')
  update(@CurrentUser() user: AuthenticatedUser, @Body() body: UpdateMeRequest): Promise<User> {
    return this.users.update(user.id, body);
  }

  @Delete()
  @HttpCode(204)
  @ContractOperation('deleteMe')
  async delete(@CurrentUser() user: AuthenticatedUser, @Body() body: DeleteMeRequest): Promise<void> {
    await this.account.deleteAccount(user.id, body.password);
  }

  @Post('password')
  @HttpCode(200)
  @ContractOperation('changePassword')
  changePassword(@CurrentUser() user: AuthenticatedUser, @Body() body: ChangePasswordRequest): Promise<AuthResponse> {
    return this.account.changePassword(user.id, body);
  }

  @Post('sign-out-everywhere')
  @HttpCode(204)
  @ContractOperation('signOutEverywhere')
  async signOutEverywhere(@CurrentUser() user: AuthenticatedUser): Promise<void> {
    await this.account.signOutEverywhere(user.id);
  }
}
