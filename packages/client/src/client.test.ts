import { describe, expect, it } from 'vitest';
import { createParleyClient } from './client.js';

describe(createParleyClient.name, () => {
  it('sends requests under the base URL through the middleware, in order', async () => {
    const seen: string[] = [];
    const requests: Request[] = [];
    const client = createParleyClient({
      baseUrl: 'http://parley.test/',
      fetch: async (request: Request) => {
        requests.push(request);
        return Response.json({ items: [] });
      },
      middleware: [
        {
          onRequest({ request }) {
            seen.push('first');
            request.headers.set('Authorization', 'Bearer t');
            return request;
          },
        },
        {
          onRequest({ request }) {
            seen.push(`second saw ${request.headers.get('Authorization')}`);
            return request;
          },
        },
      ],
    });

    const { data } = await client.GET('/api/v1/characters');

    expect(data).toEqual({ items: [] });
    expect(requests[0]?.url).toBe('http://parley.test/api/v1/characters');
    expect(seen).toEqual(['first', 'second saw Bearer t']);
  });
});
