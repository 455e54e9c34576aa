import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Injectable, Logger } from '@nestjs/common';
import type { WebSocket } from 'ws';
import type { ClientFrame, HelloFrame, Problem, SendFrame, StopFrame, SubscribeFrame } from '@parley/api-types';
import { AppConfig } from '../config/app-config.js';
import { RealtimeContract } from '../contract/realtime-contract.js';
import { toIssues } from '../contract/contract.service.js';
import { AppError } from '../errors/app-error.js';
import { ProblemFactory } from '../errors/problem.filter.js';
import { TokenService } from '../auth/token.service.js';
import { TokenVersions } from '../auth/token-versions.js';
import { TurnPipeline } from '../generation/turn-pipeline.js';
import { RepliesService } from '../generation/replies.service.js';
import { TurnRateLimiter } from '../rate-limit/turn-rate-limiter.js';
import { EventStore } from './event-store.js';
import { RealtimeConnection } from './realtime-connection.js';
import { RealtimeHub } from './realtime-hub.js';
import { SocketTurnSink } from './socket-turn.sink.js';

const CLIENT_REF = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * What the socket's frames do (contracts/realtime.asyncapi.yaml): `hello` first (the token,
 * where to resume, the chats to follow), then subscriptions, turns and stops. Every frame is
 * checked against the contract; one that cannot be acted on is answered with an `error` frame
 * carrying the same `Problem` as the HTTP API, and the socket stays open. Turns go through the
 * same pipeline as HTTP (idempotency keys, rate limit, errors), with the socket as their sink.
 */
@Injectable()
export class RealtimeFrames {
  private readonly logger = new Logger(RealtimeFrames.name);

  constructor(
    private readonly hub: RealtimeHub,
    private readonly contract: RealtimeContract,
    private readonly tokens: TokenService,
    private readonly versions: TokenVersions,
    private readonly store: EventStore,
    private readonly turns: TurnPipeline,
    private readonly replies: RepliesService,
    private readonly limiter: TurnRateLimiter,
    private readonly problems: ProblemFactory,
    private readonly config: AppConfig,
  ) {}

  opened(socket: WebSocket, request: IncomingMessage): void {
    const connection = this.hub.opened(socket);
    const language = request.headers['accept-language'];
    connection.language = typeof language === 'string' ? language : undefined;
    connection.after(this.contract.limits.helloTimeoutMs, () => {
      if (!connection.userId) connection.close('hello_timeout');
    });
  }

  received(socket: WebSocket, data: unknown): void {
    const connection = this.hub.of(socket);
    if (!connection || connection.isClosed) return;
    connection.alive = true;
    const frame = parseFrame(data);
    if (!connection.userId) {
      // Only a valid hello opens the conversation; anything else first is refused outright.
      if (frame.kind !== 'object' || frame.value.type !== 'hello' || !this.conforms(frame.value)) {
        return connection.close('unauthorized');
      }
      return void this.hello(connection, frame.value as unknown as HelloFrame).catch((error: unknown) =>
        this.failed(connection, null, error),
      );
    }
    if (frame.kind !== 'object') return this.refuse(connection, null, new AppError('malformed_json'));
    const ref = typeof frame.value.id === 'string' && CLIENT_REF.test(frame.value.id) ? frame.value.id : null;
    const type = frame.value.type;
    const validate = typeof type === 'string' && type !== 'hello' ? this.contract.clientFrame(type) : undefined;
    if (!validate) {
      return this.refuse(connection, ref, invalid('/type', 'enum', `must be one of ${this.frameTypes()}`));
    }
    if (!validate(frame.value)) {
      return this.refuse(
        connection,
        ref,
        new AppError('validation_failed', { errors: toIssues('body', validate.errors) }),
      );
    }
    void this.act(connection, frame.value as unknown as ClientFrame).catch((error: unknown) =>
      this.failed(connection, ref, error),
    );
  }

  private async act(connection: RealtimeConnection, frame: ClientFrame): Promise<void> {
    switch (frame.type) {
      case 'subscribe':
        return this.subscribe(connection, frame);
      case 'unsubscribe':
        connection.subscriptions.delete(frame.chatId);
        return connection.send({ type: 'unsubscribed', ...refOf(frame.id), chatId: frame.chatId });
      case 'send':
        return this.sendMessage(connection, frame);
      case 'stop':
        return this.stop(connection, frame);
      case 'ping':
        return connection.send({ type: 'pong', ...refOf(frame.id) });
      case 'hello':
        return;
    }
  }

  private async hello(connection: RealtimeConnection, hello: HelloFrame): Promise<void> {
    let session;
    try {
      session = this.tokens.session(hello.token);
      await this.versions.check(session.user.id, session.version);
    } catch (error) {
      // A database failure is not the token's fault: it is answered as any other failure.
      if (error instanceof AppError && error.code === 'unauthenticated') return connection.close('unauthorized');
      throw error;
    }
    if (session.expiresAtMs <= Date.now()) return connection.close('token_expired');
    if (hello.language) connection.language = hello.language;
    connection.tokenVersion = session.version;
    const userId = session.user.id;
    if (!(await this.hub.register(connection, userId))) return connection.close('too_many_connections');
    connection.after(session.expiresAtMs - Date.now(), () => connection.close('token_expired'));
    const wanted = [...new Set((hello.subscribe ?? []).map((id) => id.toLowerCase()))];
    const owned = wanted.length > 0 ? await this.store.ownedChats(userId, wanted) : new Set<string>();
    for (const chatId of owned) connection.subscriptions.add(chatId);
    const { head, horizon } = await this.store.head(userId);
    const { lastSeq } = hello;
    const resumable =
      lastSeq !== undefined &&
      lastSeq <= head &&
      lastSeq >= horizon &&
      head - lastSeq <= this.config.realtime.replayMaxEvents;
    const from = resumable ? lastSeq : head;
    connection.send({
      type: 'ready',
      userId,
      seq: from,
      resync: lastSeq !== undefined && !resumable,
      heartbeatIntervalMs: this.config.realtime.heartbeatMs,
    });
    for (let n = wanted.filter((id) => !owned.has(id)).length; n > 0; n--) {
      this.refuse(connection, null, new AppError('chat_not_found'));
    }
    connection.start(from, head);
    // A client that resumes had the earlier text of its chats' replies; a new one gets it now.
    if (!resumable) for (const chatId of owned) void connection.replayRunningReplies(chatId);
  }

  private async subscribe(connection: RealtimeConnection, frame: SubscribeFrame): Promise<void> {
    const chatId = frame.chatId.toLowerCase();
    const wait = connection.takeSubscribe();
    if (wait > 0)
      return this.refuse(connection, frame.id ?? null, new AppError('rate_limited', { retryAfterSeconds: wait }));
    if (
      !connection.subscriptions.has(chatId) &&
      connection.subscriptions.size >= this.contract.limits.maxSubscriptions
    ) {
      return this.refuse(
        connection,
        frame.id ?? null,
        invalid('/chatId', 'maxSubscriptions', `at most ${this.contract.limits.maxSubscriptions} chats per socket`),
      );
    }
    const owned = await this.store.ownedChats(connection.userId!, [chatId]);
    if (!owned.has(chatId)) return this.refuse(connection, frame.id ?? null, new AppError('chat_not_found'));
    const fresh = !connection.subscriptions.has(chatId);
    connection.subscriptions.add(chatId);
    connection.send({ type: 'subscribed', ...refOf(frame.id), chatId });
    if (fresh) await connection.replayRunningReplies(chatId);
  }

  private async sendMessage(connection: RealtimeConnection, frame: SendFrame): Promise<void> {
    const userId = connection.userId!;
    if (this.limiter.enabled) {
      const quota = await this.limiter.take(userId);
      if (!quota.allowed) {
        return this.refuse(
          connection,
          frame.id,
          new AppError('rate_limited', { retryAfterSeconds: quota.resetSeconds }),
        );
      }
    }
    await this.turns.stream(
      {
        userId,
        tokenVersion: connection.tokenVersion!,
        requestId: randomUUID(),
        acceptLanguage: connection.language,
        idempotencyKey: frame.idempotencyKey,
        lastEventId: frame.lastEventId,
        debugFault: undefined,
      },
      { kind: 'send', chatId: frame.chatId, content: frame.content },
      (from) => new SocketTurnSink(connection, frame.id, from),
    );
  }

  private async stop(connection: RealtimeConnection, frame: StopFrame): Promise<void> {
    const message = await this.replies.cancel(connection.userId!, frame.chatId, frame.messageId);
    connection.send({ type: 'stopped', ref: frame.id, message });
  }

  private conforms(frame: Record<string, unknown>): boolean {
    return this.contract.clientFrame('hello')?.(frame) === true;
  }

  private frameTypes(): string {
    return this.contract.clientTypes.filter((type) => type !== 'hello').join(', ');
  }

  private failed(connection: RealtimeConnection, ref: string | null, error: unknown): void {
    this.refuse(connection, ref, error);
  }

  private refuse(connection: RealtimeConnection, ref: string | null, error: unknown): void {
    const problem: Problem = this.problems.build(error, {
      requestId: randomUUID(),
      acceptLanguage: connection.language,
      route: this.contract.path,
    }).problem;
    if (problem.code === 'internal_error') this.logger.warn({ event: 'realtime_frame_failed', ref }, String(error));
    connection.send({ type: 'error', ref, problem });
  }
}

function refOf(id: string | undefined): { ref?: string } {
  return id === undefined ? {} : { ref: id };
}

function invalid(pointer: string, keyword: string, message: string): AppError {
  return new AppError('validation_failed', { errors: [{ location: 'body', pointer, message, keyword }] });
}

type Parsed = { kind: 'object'; value: Record<string, unknown> } | { kind: 'malformed' };

// A frame is one JSON object as text; binary frames and anything else are malformed.
function parseFrame(data: unknown): Parsed {
  if (typeof data !== 'string') return { kind: 'malformed' };
  try {
    const value: unknown = JSON.parse(data);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return { kind: 'object', value: value as Record<string, unknown> };
    }
  } catch {
    // Not JSON.
  }
  return { kind: 'malformed' };
}
