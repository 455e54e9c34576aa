import { ProviderError } from '../providers/provider.port.js';

export interface WatchdogLimits {
  /** Longest wait for the first chunk (time to first token). */
  firstChunkMs: number;
  /** Longest silence between two chunks. */
  stallMs: number;
}

/**
 * Passes a provider's stream through, failing it when the first chunk is late
 * (provider_timeout) or the stream goes quiet (stream_stalled). The upstream request is aborted
 * with the same error, so the socket is released at once.
 */
export async function* watchStream<T>(
  source: AsyncIterable<T>,
  limits: WatchdogLimits,
  upstream: AbortController,
  provider: string,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let first = true;
  for (;;) {
    const limit = first ? limits.firstChunkMs : limits.stallMs;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const error = new ProviderError(first ? 'provider_timeout' : 'stream_stalled', provider, {
          retryable: true,
          detail: first ? `no first chunk within ${limit} ms` : `no chunk for ${limit} ms`,
        });
        upstream.abort(error);
        reject(error);
      }, limit);
    });
    let result: IteratorResult<T>;
    try {
      result = await Promise.race([iterator.next(), expired]);
    } finally {
      clearTimeout(timer);
    }
    if (result.done) return;
    first = false;
    yield result.value;
  }
}
