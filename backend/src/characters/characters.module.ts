import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AvatarsModule } from '../avatars/avatars.module.js';
import { ToolsModule } from '../tools/tools.module.js';
import { CharacterEntity } from './character.entity.js';
import { CharactersController } from './characters.controller.js';
import { MyCharactersController } from './my-characters.controller.js';
import { CharactersService } from './characters.service.js';

@Module({
  imports: [TypeOrmModule.forFeature([CharacterEntity]), AvatarsModule, ToolsModule],
  // The user's own routes first: `/me/characters/import` is not a character id.
  controllers: [MyCharactersController, CharactersController],
  providers: [CharactersService],
  exports: [CharactersService],
})
export class CharactersModule {}
