import type {
  ChangePasswordRequest,
  DeleteMeRequest,
  LoginRequest,
  RegisterRequest,
  ResetPasswordRequest,
  UpdateMeRequest,
} from '@parley/api-types';
import { ApiError } from '@parley/client';
import { api } from '../api/client';

export async function login(body: LoginRequest) {
  const { data, error, response } = await api.POST('/api/v1/auth/login', { body });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

export async function register(body: RegisterRequest) {
  const { data, error, response } = await api.POST('/api/v1/auth/register', { body });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

export async function fetchMe() {
  const { data, error, response } = await api.GET('/api/v1/me');
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

export async function updateMe(body: UpdateMeRequest) {
  const { data, error, response } = await api.PATCH('/api/v1/me', { body });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

export async function changePassword(body: ChangePasswordRequest) {
  const { data, error, response } = await api.POST('/api/v1/me/password', { body });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

export async function signOutEverywhere() {
  const { error, response } = await api.POST('/api/v1/me/sign-out-everywhere');
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
}

export async function deleteAccount(body: DeleteMeRequest) {
  const { error, response } = await api.DELETE('/api/v1/me', { body });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
}

export async function resetPassword(body: ResetPasswordRequest) {
  const { data, error, response } = await api.POST('/api/v1/auth/password-reset', { body });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}
