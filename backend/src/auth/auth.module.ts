import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AuthController } from './auth.controller.js';
import { AuthGuard } from './auth.guard.js';
import { AuthService } from './auth.service.js';
import { PasswordService } from './password.service.js';
import { TokenService } from './token.service.js';
import { TokenVersions } from './token-versions.js';

@Module({
  controllers: [AuthController],
  providers: [AuthService, PasswordService, TokenService, TokenVersions, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [AuthService, TokenService, TokenVersions, PasswordService],
})
export class AuthModule {}
