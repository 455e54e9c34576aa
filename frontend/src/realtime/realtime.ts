import { RealtimeChannel, realtimeUrl, type RealtimeEvent } from '@parley/client';
import { REFUSED_GRACE_MS, token, tokenRefused } from '../state/session';

type Listener<T> = (value: T) => void;

const eventListeners = new Set<Listener<RealtimeEvent>>();
const resyncListeners = new Set<() => void>();
const subscribed = new Map<string, number>();
let channel: RealtimeChannel | undefined;

function listen<T>(into: Set<Listener<T>>, listener: Listener<T>): () => void {
  into.add(listener);
  return () => into.delete(listener);
}

/**
 * The tab's one realtime channel (contracts/realtime.asyncapi.yaml): what the user's other tabs
 * and devices change arrives here and is handed to the parts of the page that show it. Started
 * by the signed-in workspace; the returned function stops it.
 */
export function startRealtime(): () => void {
  channel?.stop();
  // The token the channel said hello with, so a refusal is matched to it (not to a newer one).
  let used: string | null = null;
  let stopped = false;
  const current = new RealtimeChannel({
    url: realtimeUrl(location),
    token: () => (used = token()),
    onEvent: (event) => {
      for (const listener of eventListeners) listener(event);
    },
    onResync: () => {
      for (const listener of resyncListeners) listener();
    },
    onUnauthorized: () => {
      const refused = used;
      tokenRefused(refused);
      // Once a newer token is in use (at once, or when another tab stores it), connect with it.
      const deadline = Date.now() + REFUSED_GRACE_MS + 500;
      const reconnect = () => {
        const now = token();
        if (stopped || !now) return;
        if (now !== refused) return current.start();
        if (Date.now() < deadline) setTimeout(reconnect, 100);
      };
      reconnect();
    },
  });
  for (const chatId of subscribed.keys()) current.subscribe(chatId);
  channel = current;
  current.start();
  return () => {
    stopped = true;
    current.stop();
    if (channel === current) channel = undefined;
  };
}

/** Every event of the user, in order; returns the function that stops listening. */
export function onRealtimeEvent(listener: Listener<RealtimeEvent>): () => void {
  return listen(eventListeners, listener);
}

/** Events were lost: what is shown must be reloaded. */
export function onRealtimeResync(listener: () => void): () => void {
  return listen(resyncListeners, listener);
}

/** Asks for the chat's replies as they are written (their `reply.delta` events) until the returned function runs. */
export function subscribeChat(chatId: string): () => void {
  subscribed.set(chatId, (subscribed.get(chatId) ?? 0) + 1);
  channel?.subscribe(chatId);
  return () => {
    const left = (subscribed.get(chatId) ?? 1) - 1;
    if (left > 0) return void subscribed.set(chatId, left);
    subscribed.delete(chatId);
    channel?.unsubscribe(chatId);
  };
}
