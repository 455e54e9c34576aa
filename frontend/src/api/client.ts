import { createParleyClient, type Middleware } from '@parley/client';
import { locale, token, tokenRefused } from '../state/session';
import { newId } from './ids';

const sessionMiddleware: Middleware = {
  onRequest({ request }) {
    const accessToken = token();
    if (accessToken) request.headers.set('Authorization', `Bearer ${accessToken}`);
    request.headers.set('Accept-Language', locale());
    if (!request.headers.has('X-Request-Id')) request.headers.set('X-Request-Id', newId());
    return request;
  },
  onResponse({ request, response }) {
    // The token expired or was revoked: forget it so the app falls back to the sign-in form
    // (unless a newer one has been stored meanwhile).
    const authorization = request.headers.get('Authorization');
    if (response.status === 401 && authorization) tokenRefused(authorization.replace(/^Bearer /, ''));
    return undefined;
  },
};

// The app's one client. Same origin: Vite proxies the API in development and the backend
// serves the built app.
export const api = createParleyClient({ baseUrl: '', middleware: [sessionMiddleware] });
