import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CharactersModule } from '../characters/characters.module.js';
import { PersonasModule } from '../personas/personas.module.js';
import { ToolsModule } from '../tools/tools.module.js';
import { ChatEntity } from './chat.entity.js';
import { MessageEntity } from './message.entity.js';
import { ToolCallEntity } from './tool-call.entity.js';
import { ChatsController } from './chats.controller.js';
import { ChatsService } from './chats.service.js';
import { MessagesRepository } from './messages.repository.js';
import { SearchController } from './search.controller.js';
import { SearchService } from './search.service.js';
import { CursorCodec } from '../pagination/cursor-codec.js';
import { ConversationTreeController } from './conversation-tree.controller.js';
import { ConversationTreeService } from './conversation-tree.service.js';

@Module({
  imports: [
    TypeOrmModule.forFeature([ChatEntity, MessageEntity, ToolCallEntity]),
    CharactersModule,
    PersonasModule,
    ToolsModule,
  ],
  controllers: [ChatsController, SearchController, ConversationTreeController],
  providers: [ChatsService, SearchService, MessagesRepository, CursorCodec, ConversationTreeService],
  exports: [ChatsService, MessagesRepository],
})
export class ChatsModule {}
