import { randomUUID } from 'node:crypto';
import type { ExecutionContext } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import {
  CurrentSession,
  CurrentUser,
  TokenVersionCheckedByHandler,
  VERSION_CHECKED_BY_HANDLER,
  setAuthenticatedUser,
} from './current-user.decorator.js';

type Factory = (data: unknown, context: ExecutionContext) => unknown;

/** The function Nest calls to fill a parameter marked with this decorator (Nest's own testing pattern). */
function factoryOf(decorator: () => ParameterDecorator): Factory {
  class Routes {
    handler(@decorator() _value: unknown): void {}
  }
  const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, Routes, 'handler') as Record<string, { factory: Factory }>;
  return Object.values(args)[0]!.factory;
}

function contextOf(request: Request): ExecutionContext {
  return { switchToHttp: () => ({ getRequest: () => request }) } as unknown as ExecutionContext;
}

const userId = randomUUID();

describe('CurrentUser', () => {
  const currentUser = factoryOf(CurrentUser);

  it('hands the handler the user the guard established', () => {
    const request = { headers: {} } as Request;
    setAuthenticatedUser(request, { id: userId }, 3);
    expect(currentUser(undefined, contextOf(request))).toEqual({ id: userId });
  });

  it('refuses to run on a request the guard named no one on (a public route)', () => {
    expect(() => currentUser(undefined, contextOf({ headers: {} } as Request))).toThrow(
      'CurrentUser used on a public route',
    );
  });
});

describe('CurrentSession', () => {
  const currentSession = factoryOf(CurrentSession);

  it('hands the handler the user and the version their token was issued at', () => {
    const request = { headers: {} } as Request;
    setAuthenticatedUser(request, { id: userId }, 3);
    expect(currentSession(undefined, contextOf(request))).toEqual({ userId, tokenVersion: 3 });
  });

  it('refuses to run on a request the guard named no one on (a public route)', () => {
    expect(() => currentSession(undefined, contextOf({ headers: {} } as Request))).toThrow(
      'CurrentSession used on a public route',
    );
  });
});

describe('TokenVersionCheckedByHandler', () => {
  it('marks the handler for the guard', () => {
    class Routes {
      @TokenVersionCheckedByHandler()
      hot(): void {}
    }
    expect(new Reflector().get(VERSION_CHECKED_BY_HANDLER, Routes.prototype.hot)).toBe(true);
  });
});
