import { api } from '../api/client';
import { toApiError } from '../api/problem';

/** Characters in the request's locale (the client sends Accept-Language). */
export async function fetchCharacters() {
  const { data, error, response } = await api.GET('/api/characters');
  if (error !== undefined || !response.ok) throw toApiError(error, response);
  return data.items;
}
