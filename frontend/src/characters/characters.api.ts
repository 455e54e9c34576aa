import { ApiError } from '@parley/client';
import { api } from '../api/client';

/** Characters in the request's locale (the client sends Accept-Language). */
export async function fetchCharacters() {
  const { data, error, response } = await api.GET('/api/v1/characters');
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data.items;
}
