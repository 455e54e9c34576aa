import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import type { AuthResponse, LoginRequest, RegisterRequest, ResetPasswordRequest } from '@parley/api-types';
import { ContractOperation } from '../contract/contract-operation.decorator.js';
import { Public } from './public.decorator.js';
import { AuthService } from './auth.service.js';

@Controller('api/v1/auth')
@Public()
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('register')
  @ContractOperation('register')
  register(@Body() body: RegisterRequest): Promise<AuthResponse> {
    return this.auth.register(body);
  }

  @Post('login')
  @HttpCode(200)
  @ContractOperation('login')
  login(@Body() body: LoginRequest): Promise<AuthResponse> {
    return this.auth.login(body);
  }

  @Post('password-reset')
  @HttpCode(200)
  @ContractOperation('resetPassword')
  resetPassword(@Body() body: ResetPasswordRequest): Promise<AuthResponse> {
    return this.auth.resetPassword(body);
  }
}
