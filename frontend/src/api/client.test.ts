import { describe, expect, it, vi } from 'vitest';
import { REFUSED_GRACE_MS, setLocale, signIn, token } from '../state/session';
import { api } from './client';

// Node's Request (used under jsdom) needs an absolute URL; in the browser baseUrl '' resolves.
const baseUrl = 'http://parley.test';

// Stands in for the network: records each Request the client sends and answers it.
function recordingFetch(respond: () => Response = () => Response.json({ items: [] })) {
  const requests: Request[] = [];
  const fetch = async (request: Request) => {
    requests.push(request);
    return respond();
  };
  return { requests, fetch };
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('api client', () => {
  describe('sessionMiddleware', () => {
    it('adds Authorization, Accept-Language and X-Request-Id when signed in', async () => {
      signIn('token-123');
      setLocale('zh');
      const { requests, fetch } = recordingFetch();

      await api.GET('/api/v1/chats', { baseUrl, fetch });

      expect(requests).toHaveLength(1);
      const headers = requests[0]?.headers;
      expect(headers?.get('Authorization')).toBe('Bearer token-123');
      expect(headers?.get('Accept-Language')).toBe('zh');
      expect(headers?.get('X-Request-Id')).toMatch(uuid);
    });

    it('sends no Authorization when signed out, and the current locale', async () => {
      setLocale('en');
      const { requests, fetch } = recordingFetch();

      await api.GET('/api/v1/characters', { baseUrl, fetch });

      expect(requests[0]?.headers.has('Authorization')).toBe(false);
      expect(requests[0]?.headers.get('Accept-Language')).toBe('en');
    });

    it('gives every request its own request id', async () => {
      const { requests, fetch } = recordingFetch();

      await api.GET('/api/v1/characters', { baseUrl, fetch });
      await api.GET('/api/v1/characters', { baseUrl, fetch });

      const ids = requests.map((request) => request.headers.get('X-Request-Id'));
      expect(ids[0]).toMatch(uuid);
      expect(ids[1]).toMatch(uuid);
      expect(ids[0]).not.toBe(ids[1]);
    });

    it('signs out when an authenticated request is answered 401 (and no newer token arrives)', async () => {
      vi.useFakeTimers();
      try {
        signIn('expired-token');
        const { fetch } = recordingFetch(() => new Response(null, { status: 401 }));

        await api.GET('/api/v1/me', { baseUrl, fetch });
        vi.advanceTimersByTime(REFUSED_GRACE_MS);

        expect(token()).toBeNull();
      } finally {
        vi.useRealTimers();
      }
    });
  });
});
