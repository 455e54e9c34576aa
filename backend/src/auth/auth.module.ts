import { createSecretKey } from 'node:crypto';
import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { AppConfig } from '../config/app-config.js';
import { AuthController } from './auth.controller.js';
import { AuthGuard } from './auth.guard.js';
import { AuthService } from './auth.service.js';
import { PasswordService } from './password.service.js';
import { TokenService } from './token.service.js';
import { TokenVersions } from './token-versions.js';

@Module({
  imports: [
    JwtModule.registerAsync({
      inject: [AppConfig],
      // A key object made once: given a string, jsonwebtoken first tries (and fails) to parse it as a
      // public or private key on every sign and verify.
      useFactory: (config: AppConfig) => ({ secret: createSecretKey(Buffer.from(config.auth.jwtSecret)) }),
    }),
  ],
  controllers: [AuthController],
  providers: [AuthService, PasswordService, TokenService, TokenVersions, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [AuthService, TokenService, TokenVersions, PasswordService],
})
export class AuthModule {}
