import type { IncomingMessage } from 'node:http';
import { WebSocketGateway, type OnGatewayConnection, type OnGatewayDisconnect } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { Public } from '../auth/public.decorator.js';
import { loadRealtimeDocument } from '../contract/realtime-contract.js';
import { RealtimeFrames } from './realtime-frames.js';
import { RealtimeHub } from './realtime-hub.js';

// The gateway's options are fixed when the class is declared, from the contract.
const contract = loadRealtimeDocument();

// The socket authenticates with its first frame, never in the URL: the HTTP guard stands aside.
// Frames are read from the socket itself rather than through @SubscribeMessage handlers: the
// protocol reads `type` itself (so malformed and unknown frames get the contract's answers), and
// the app's HTTP enhancers (guard, interceptors, filter) have no business with a frame.
@Public()
@WebSocketGateway({ path: contract.channels.realtime.address, maxPayload: contract.info['x-limits'].maxFrameBytes })
export class RealtimeGateway implements OnGatewayConnection, OnGatewayDisconnect {
  constructor(
    private readonly frames: RealtimeFrames,
    private readonly hub: RealtimeHub,
  ) {}

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    this.frames.opened(socket, request);
    socket.on('message', (data: Buffer, isBinary: boolean) =>
      this.frames.received(socket, isBinary ? data : data.toString('utf8')),
    );
  }

  handleDisconnect(socket: WebSocket): void {
    this.hub.of(socket)?.close('normal');
  }
}
