import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { WebSocket } from 'ws';
import { AppConfig } from '../config/app-config.js';
import { RealtimeContract } from '../contract/realtime-contract.js';
import { every } from '../lifecycle/every.js';
import { EventBus } from './event-bus.js';
import { readNotice } from './event-draft.js';
import { EventStore } from './event-store.js';
import { RealtimeConnection } from './realtime-connection.js';
import { RealtimeMetrics } from './realtime.metrics.js';
import { SharedState } from '../shared-state/shared-state.js';

// A safety net under the bus (a notice lost while a listener reconnected, or a publisher that
// died between its commit and its announcement): how often the connected users' latest numbers
// are checked.
const RECONCILE_EVERY_MS = 15_000;
// A socket's slot in its user's shared count outlives this many missed heartbeats (a dead instance's
// sockets stop counting after that).
const SLOT_HEARTBEATS = 3;

/**
 * This instance's sockets, by user, and what feeds them: the bus's notices (every instance's
 * events), heartbeats, reconciliation, and the close at shutdown (1001: reconnect elsewhere).
 */
@Injectable()
export class RealtimeHub implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(RealtimeHub.name);
  private readonly bySocket = new WeakMap<WebSocket, RealtimeConnection>();
  private readonly byUser = new Map<string, Set<RealtimeConnection>>();
  private readonly connections = new Set<RealtimeConnection>();
  private readonly stops: Array<() => void> = [];

  constructor(
    private readonly bus: EventBus,
    private readonly store: EventStore,
    private readonly contract: RealtimeContract,
    private readonly config: AppConfig,
    private readonly metrics: RealtimeMetrics,
    private readonly state: SharedState,
  ) {
    metrics.watch(
      () => this.size,
      () => bus.listening,
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.listen(
      (notice) => this.onNotice(notice),
      () => void this.reconcile(),
    );
    this.stops.push(every(this.config.realtime.heartbeatMs, () => this.heartbeat()));
    this.stops.push(every(RECONCILE_EVERY_MS, () => void this.reconcile()));
    this.logger.log({ event: 'realtime_ready', bus: this.bus.name, path: this.contract.path });
  }

  beforeApplicationShutdown(): void {
    for (const stop of this.stops.splice(0)) stop();
    for (const connection of this.connections) connection.close('going_away');
  }

  onApplicationShutdown(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  get size(): number {
    return this.connections.size;
  }

  opened(socket: WebSocket): RealtimeConnection {
    const connection = new RealtimeConnection(socket, this.contract, this.store, (error) =>
      this.logger.warn({ event: 'realtime_delivery_failed' }, String(error)),
    );
    this.bySocket.set(socket, connection);
    this.connections.add(connection);
    connection.onClose(() => this.forget(connection));
    return connection;
  }

  of(socket: WebSocket): RealtimeConnection | undefined {
    return this.bySocket.get(socket);
  }

  /**
   * Counts the socket as the user's, across every instance (a slot in the shared store, renewed
   * with the heartbeats); false when the user already holds the most allowed. With the store
   * unreachable, this instance's own count still limits.
   */
  async register(connection: RealtimeConnection, userId: string): Promise<boolean> {
    const limit = this.config.realtime.maxConnectionsPerUser;
    if ((this.byUser.get(userId)?.size ?? 0) >= limit) return false;
    let held = true;
    try {
      held = await this.state.claimSlot(slotOf(userId), connection.id, limit, this.slotTtlMs);
    } catch (error) {
      this.logger.warn({ event: 'realtime_slot_unavailable' }, String(error));
    }
    if (!held) return false;
    if (connection.isClosed) {
      this.release(userId, connection);
      return false;
    }
    connection.userId = userId;
    const sockets = this.byUser.get(userId) ?? new Set<RealtimeConnection>();
    sockets.add(connection);
    this.byUser.set(userId, sockets);
    return true;
  }

  /** Closes the user's sockets on this instance: their tokens were just revoked. */
  closeUser(userId: string): void {
    for (const connection of [...(this.byUser.get(userId) ?? [])]) connection.close('unauthorized');
  }

  private get slotTtlMs(): number {
    return this.config.realtime.heartbeatMs * SLOT_HEARTBEATS;
  }

  private release(userId: string, connection: RealtimeConnection): void {
    this.state
      .releaseSlot(slotOf(userId), connection.id)
      .catch((error: unknown) => this.logger.warn({ event: 'realtime_slot_release_failed' }, String(error)));
  }

  private forget(connection: RealtimeConnection): void {
    this.connections.delete(connection);
    if (!connection.userId) return;
    const sockets = this.byUser.get(connection.userId);
    sockets?.delete(connection);
    if (sockets?.size === 0) this.byUser.delete(connection.userId);
    this.release(connection.userId, connection);
  }

  private onNotice(notice: string): void {
    this.metrics.notices.inc();
    let entries;
    try {
      entries = readNotice(notice);
    } catch (error) {
      this.logger.warn({ event: 'realtime_notice_unreadable' }, String(error));
      return;
    }
    for (const [userId, seq, event] of entries) {
      const sockets = this.byUser.get(userId);
      if (!sockets) continue;
      if (event !== 0) {
        for (const connection of sockets) connection.offer(event);
        continue;
      }
      // Too large for the notice: read once for all of the user's sockets here.
      this.store.range(userId, seq - 1, seq, 1).then(
        ([read]) => {
          if (read) for (const connection of this.byUser.get(userId) ?? []) connection.offer(read);
        },
        (error: unknown) => this.logger.warn({ event: 'realtime_event_read_failed' }, String(error)),
      );
    }
  }

  private heartbeat(): void {
    for (const connection of this.connections) connection.heartbeat();
    const slots = [...this.byUser].flatMap(([userId, sockets]) =>
      [...sockets].map((connection) => ({ key: slotOf(userId), holder: connection.id })),
    );
    this.state
      .renewSlots(slots, this.slotTtlMs)
      .catch((error: unknown) => this.logger.warn({ event: 'realtime_slot_renew_failed' }, String(error)));
  }

  private async reconcile(): Promise<void> {
    const users = [...this.byUser.keys()];
    if (users.length === 0) return;
    try {
      const heads = await this.store.heads(users);
      for (const [userId, head] of heads) {
        for (const connection of this.byUser.get(userId) ?? []) connection.catchUp(head);
      }
    } catch (error) {
      this.logger.warn({ event: 'realtime_reconcile_failed' }, String(error));
    }
  }
}

function slotOf(userId: string): string {
  return `realtime:${userId}`;
}
