import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ToolCallEntity } from '../chats/tool-call.entity.js';
import { CursorCodec } from '../pagination/cursor-codec.js';
import { ChatMemoryEntity } from './chat-memory.entity.js';
import { ChatMemoryService } from './chat-memory.service.js';
import { InterruptedToolCallsService } from './interrupted-tool-calls.service.js';
import { McpToolsService } from './mcp-tools.service.js';
import { ToolMetrics } from './tool.metrics.js';
import { ToolCallStore } from './tool-call.store.js';
import { ToolCallsService } from './tool-calls.service.js';
import { ToolLoop } from './tool-loop.js';
import { ToolRegistry } from './tool-registry.js';
import { ToolsController } from './tools.controller.js';
import { ToolCatalogController } from './tool-catalog.controller.js';

/** Tools characters may call (built-in, later MCP), the loop that runs them inside a turn, and their records. */
@Module({
  imports: [TypeOrmModule.forFeature([ToolCallEntity, ChatMemoryEntity])],
  controllers: [ToolsController, ToolCatalogController],
  providers: [
    ToolRegistry,
    ToolLoop,
    ToolCallStore,
    ToolCallsService,
    ChatMemoryService,
    InterruptedToolCallsService,
    McpToolsService,
    ToolMetrics,
    CursorCodec,
  ],
  exports: [ToolRegistry, ToolLoop, ToolCallStore],
})
export class ToolsModule {}
