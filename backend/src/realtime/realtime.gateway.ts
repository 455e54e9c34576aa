import type { IncomingMessage } from 'node:http';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
} from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { Public } from '../auth/public.decorator.js';
import { loadRealtimeDocument } from '../contract/realtime-contract.js';
import { RealtimeFrames } from './realtime-frames.js';
import { RealtimeHub } from './realtime-hub.js';

/** Every frame reaches one handler: the protocol (contracts/realtime.asyncapi.yaml) reads `type` itself. */
export const FRAME_EVENT = 'frame';

// The gateway's options are fixed when the class is declared, from the contract.
const contract = loadRealtimeDocument();

// The socket authenticates with its first frame, never in the URL: the HTTP guard stands aside.
@Public()
@WebSocketGateway({ path: contract.channels.realtime.address, maxPayload: contract.info['x-limits'].maxFrameBytes })
export class RealtimeGateway implements OnGatewayConnection, OnGatewayDisconnect {
  constructor(
    private readonly frames: RealtimeFrames,
    private readonly hub: RealtimeHub,
  ) {}

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    this.frames.opened(socket, request);
  }

  handleDisconnect(socket: WebSocket): void {
    this.hub.of(socket)?.close('normal');
  }

  @SubscribeMessage(FRAME_EVENT)
  onFrame(@ConnectedSocket() socket: WebSocket, @MessageBody() data: unknown): void {
    this.frames.received(socket, data);
  }
}
