import type { ClientFrame, RealtimeCloseCodes, RealtimeEvent, ServerFrame } from '@parley/api-types';

/** The close codes of contracts/realtime.asyncapi.yaml (`x-close-codes`), checked by its types. */
export const REALTIME_CLOSE_CODES = {
  normal: 1000,
  going_away: 1001,
  frame_too_large: 1009,
  server_error: 1011,
  unauthorized: 4401,
  token_expired: 4403,
  hello_timeout: 4408,
  resync: 4409,
  too_many_connections: 4429,
} as const satisfies RealtimeCloseCodes;

export const REALTIME_PATH = '/api/v1/realtime';

export type RealtimeStatus = 'connecting' | 'open' | 'closed';

export interface RealtimeChannelOptions {
  /** `ws://…/api/v1/realtime` or `wss://…`. */
  url: string;
  /** The access token for `hello`; null stops the channel (signed out). */
  token: () => string | null;
  /** Every event of the user, in order, each once (across reconnects). */
  onEvent: (event: RealtimeEvent) => void;
  /** Events were lost (the server no longer had them): reload what you show over HTTP. */
  onResync?: () => void;
  /** The token was refused or expired (4401, 4403): sign in again. */
  onUnauthorized?: () => void;
  onStatus?: (status: RealtimeStatus) => void;
  /** Waits between reconnection attempts (the last repeats), before jitter. */
  reconnectDelaysMs?: readonly number[];
  /** How often to ask for a `pong`, and how long to wait for it, to notice a dead connection. */
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  /** Another WebSocket implementation (Node before 22, tests). */
  WebSocket?: typeof WebSocket;
}

/**
 * One realtime channel (one per tab): connects, says `hello` with the last event number seen and
 * the chats subscribed to, and reconnects with backoff and jitter whenever the connection is
 * lost, resuming from where it was, so its events arrive in order and none is lost. A `ping`
 * at an interval notices a connection that died silently (browsers cannot see the server's
 * WebSocket pings).
 */
export class RealtimeChannel {
  private socket: WebSocket | undefined;
  private lastSeq: number | undefined;
  private readonly subscriptions = new Set<string>();
  private attempts = 0;
  private stopped = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: RealtimeChannelOptions) {}

  start(): void {
    this.stopped = false;
    if (!this.socket) this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.teardown();
    this.socket?.close(REALTIME_CLOSE_CODES.normal);
    this.socket = undefined;
    this.options.onStatus?.('closed');
  }

  subscribe(chatId: string): void {
    this.subscriptions.add(chatId);
    this.sendIfOpen({ type: 'subscribe', chatId });
  }

  unsubscribe(chatId: string): void {
    if (!this.subscriptions.delete(chatId)) return;
    this.sendIfOpen({ type: 'unsubscribe', chatId });
  }

  private connect(): void {
    const token = this.options.token();
    if (!token || this.stopped) return;
    const Socket = this.options.WebSocket ?? WebSocket;
    const socket = new Socket(this.options.url);
    this.socket = socket;
    this.options.onStatus?.('connecting');
    socket.onopen = () => {
      const hello: ClientFrame = { type: 'hello', token, subscribe: [...this.subscriptions] };
      if (this.lastSeq !== undefined) hello.lastSeq = this.lastSeq;
      socket.send(JSON.stringify(hello));
    };
    socket.onmessage = (message: MessageEvent) => {
      if (typeof message.data === 'string') this.received(JSON.parse(message.data) as ServerFrame);
    };
    socket.onclose = (event: CloseEvent) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.teardown();
      this.options.onStatus?.('closed');
      if (event.code === REALTIME_CLOSE_CODES.unauthorized || event.code === REALTIME_CLOSE_CODES.token_expired) {
        this.options.onUnauthorized?.();
        return;
      }
      this.scheduleReconnect(event.code === REALTIME_CLOSE_CODES.too_many_connections);
    };
  }

  private received(frame: ServerFrame): void {
    this.heard();
    switch (frame.type) {
      case 'ready':
        this.attempts = 0;
        this.lastSeq = frame.seq;
        this.startPinging();
        this.options.onStatus?.('open');
        if (frame.resync) this.options.onResync?.();
        return;
      case 'resync':
        this.lastSeq = frame.seq;
        this.options.onResync?.();
        return;
      case 'pong':
      case 'subscribed':
      case 'unsubscribed':
      case 'turn':
      case 'stopped':
      case 'error':
        return;
      default:
        // An event: replayed text of a subscribed chat may come again with a lower number.
        this.lastSeq = Math.max(this.lastSeq ?? 0, frame.seq);
        this.options.onEvent(frame);
    }
  }

  private sendIfOpen(frame: ClientFrame): void {
    if (this.socket?.readyState === 1) this.socket.send(JSON.stringify(frame));
  }

  private startPinging(): void {
    const every = this.options.pingIntervalMs ?? 25_000;
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      this.sendIfOpen({ type: 'ping' });
      this.pongTimer ??= setTimeout(() => this.socket?.close(), this.options.pongTimeoutMs ?? 10_000);
    }, every);
  }

  private heard(): void {
    clearTimeout(this.pongTimer);
    this.pongTimer = undefined;
  }

  private teardown(): void {
    clearInterval(this.pingTimer);
    this.heard();
  }

  private scheduleReconnect(crowded: boolean): void {
    if (this.stopped) return;
    const delays = this.options.reconnectDelaysMs ?? [500, 1000, 2000, 4000, 8000, 15000];
    const base = delays[Math.min(this.attempts++, delays.length - 1)]! * (crowded ? 4 : 1);
    // Jitter, so the tabs of a restarted instance do not all come back at once.
    this.reconnectTimer = setTimeout(() => this.connect(), base / 2 + Math.random() * base);
  }
}

/** The channel's URL for a page served by Parley (same origin). */
export function realtimeUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${REALTIME_PATH}`;
}
