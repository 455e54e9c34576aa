import type { LoginRequest, RegisterRequest } from '@parley/api-types';
import { api } from '../api/client';
import { toApiError } from '../api/problem';

export async function login(body: LoginRequest) {
  const { data, error, response } = await api.POST('/api/auth/login', { body });
  if (error !== undefined || !response.ok) throw toApiError(error, response);
  return data;
}

export async function register(body: RegisterRequest) {
  const { data, error, response } = await api.POST('/api/auth/register', { body });
  if (error !== undefined || !response.ok) throw toApiError(error, response);
  return data;
}

export async function fetchMe() {
  const { data, error, response } = await api.GET('/api/me');
  if (error !== undefined || !response.ok) throw toApiError(error, response);
  return data;
}
