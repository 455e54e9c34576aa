import { expect, test } from '@playwright/test';

const IMMUTABLE = 'public, max-age=31536000, immutable';

test('built files are sent precompressed by Accept-Encoding, hashed ones cached for good', async ({ request }) => {
  const index = await request.get('/', { headers: { Accept: 'text/html' } });
  expect(index.status()).toBe(200);
  expect(index.headers()['cache-control']).toBe('no-cache');
  const html = await index.text();
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  expect(script).toBeTruthy();
  const path = script ?? '';

  const plain = await request.get(path, { headers: { 'Accept-Encoding': 'identity' } });
  const body = await plain.body();
  expect(plain.headers()['content-encoding']).toBeUndefined();
  expect(plain.headers()['cache-control']).toBe(IMMUTABLE);

  for (const [accepted, chosen] of [
    ['gzip, deflate, br', 'br'],
    ['gzip', 'gzip'],
  ] as const) {
    const response = await request.get(path, { headers: { 'Accept-Encoding': accepted } });
    expect(response.status()).toBe(200);
    const headers = response.headers();
    expect(headers['content-encoding'], accepted).toBe(chosen);
    expect(headers['content-type']).toMatch(/javascript/);
    expect(headers['vary']).toMatch(/Accept-Encoding/i);
    expect(headers['cache-control']).toBe(IMMUTABLE);
    expect(Number(headers['content-length'])).toBeLessThan(body.length / 2);
    // Decoded, it is the very same file.
    expect((await response.body()).equals(body)).toBe(true);
  }

  // Icons and the manifest are not hashed: the browser checks them again each time.
  for (const file of ['/favicon.svg', '/manifest.webmanifest']) {
    const response = await request.get(file);
    expect(response.status(), file).toBe(200);
    expect(response.headers()['cache-control'], file).toBe('no-cache');
  }
  expect(html).toContain('rel="manifest"');
  expect(html).toContain('rel="icon"');
});
