import createClient, { type Client, type ClientOptions, type Middleware } from 'openapi-fetch';
import type { paths } from '@parley/api-types';

/** The typed HTTP client of Parley's API: openapi-fetch over the contract's `paths`. */
export type ParleyClient = Client<paths>;

export interface ParleyClientOptions extends ClientOptions {
  /** The server's origin (`https://parley.example`); `''` for the page's own origin in a browser. */
  baseUrl: string;
  /** Cross-cutting concerns (authentication, language, request ids), applied in this order. */
  middleware?: readonly Middleware[];
}

export function createParleyClient(options: ParleyClientOptions): ParleyClient {
  const { middleware = [], ...clientOptions } = options;
  const client = createClient<paths>(clientOptions);
  client.use(...middleware);
  return client;
}
