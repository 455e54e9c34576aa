import expressStaticGzip from 'express-static-gzip';
import type { ServerResponse } from 'node:http';
import { sep } from 'node:path';

// Vite puts every content-hashed file under assets/: a new build gives them new names, so a
// browser may keep them for good. Anything else (favicon, manifest) is revalidated each time.
const HASHED = `${sep}assets${sep}`;
export const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * The built web app's files, each sent as the brotli or gzip copy made at build time when the
 * browser accepts it (brotli first), with `Vary: Accept-Encoding`.
 */
export function staticAssets(root: string) {
  return expressStaticGzip(root, {
    enableBrotli: true,
    orderPreference: ['br', 'gzip'],
    index: false,
    serveStatic: {
      index: false,
      redirect: false,
      etag: false,
      // serve-static's own max-age is replaced by the header below.
      cacheControl: false,
      setHeaders: (response: ServerResponse, path: string) => {
        response.setHeader('Cache-Control', path.includes(HASHED) ? IMMUTABLE : 'no-cache');
      },
    },
  });
}
