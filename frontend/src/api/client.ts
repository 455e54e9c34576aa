import createClient, { type Middleware } from 'openapi-fetch';
import type { paths } from '@parley/api-types';
import { locale, signOut, token } from '../state/session';

// crypto.randomUUID exists only in secure contexts (https, localhost); a LAN address over plain
// http still needs an id, so fall back to random bytes formatted as a version-4 UUID.
function newRequestId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const sessionMiddleware: Middleware = {
  onRequest({ request }) {
    const accessToken = token();
    if (accessToken) request.headers.set('Authorization', `Bearer ${accessToken}`);
    request.headers.set('Accept-Language', locale());
    if (!request.headers.has('X-Request-Id')) request.headers.set('X-Request-Id', newRequestId());
    return request;
  },
  onResponse({ request, response }) {
    // The token expired or was revoked: forget it so the app falls back to the sign-in form.
    if (response.status === 401 && request.headers.has('Authorization')) signOut();
    return undefined;
  },
};

// Same origin: Vite proxies the API in development and the backend serves the built app.
export const api = createClient<paths>({ baseUrl: '' });
api.use(sessionMiddleware);
