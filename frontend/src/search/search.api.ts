import { ApiError } from '@parley/client';
import { api } from '../api/client';

const SEARCH_PAGE_SIZE = 20;

export async function searchMessages(q: string, cursor?: string) {
  const { data, error, response } = await api.GET('/api/v1/search', {
    params: { query: { q, cursor, limit: SEARCH_PAGE_SIZE } },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}
