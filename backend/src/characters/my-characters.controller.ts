import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Req, Res, StreamableFile } from '@nestjs/common';
import type { Request, Response } from 'express';
import type {
  CharacterDetail,
  CharacterImport,
  CharacterInput,
  CharacterList,
  Locale,
  operations,
} from '@parley/api-types';
import { ContractOperation, ValidQuery } from '../contract/contract-operation.decorator.js';
import { CurrentUser, type AuthenticatedUser } from '../auth/current-user.decorator.js';
import { RequestLocale } from '../i18n/request-locale.decorator.js';
import { CharactersService } from './characters.service.js';

type ExportQuery = NonNullable<operations['exportCharacter']['parameters']['query']>;

@Controller('api/v1/me/characters')
export class MyCharactersController {
  constructor(private readonly characters: CharactersService) {}

  @Get()
  @ContractOperation('listMyCharacters')
  list(@CurrentUser() user: AuthenticatedUser, @RequestLocale() locale: Locale): Promise<CharacterList> {
    return this.characters.listMine(user.id, locale);
  }

  @Post()
  @ContractOperation('createCharacter')
  create(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: CharacterInput,
    @RequestLocale() locale: Locale,
  ): Promise<CharacterDetail> {
    return this.characters.create(user.id, body, locale);
  }

  // The body is a card as JSON, or the bytes of a PNG carrying one (JsonBodyMiddleware).
  @Post('import')
  @ContractOperation('importCharacter')
  import(
    @CurrentUser() user: AuthenticatedUser,
    @Req() request: Request,
    @RequestLocale() locale: Locale,
  ): Promise<CharacterImport> {
    return this.characters.import(user.id, request.body as unknown, locale);
  }

  @Get(':characterId')
  @ContractOperation('getMyCharacter')
  get(@CurrentUser() user: AuthenticatedUser, @Param('characterId') id: string): Promise<CharacterDetail> {
    return this.characters.getMine(user.id, id);
  }

  @Put(':characterId')
  @ContractOperation('updateCharacter')
  update(
    @CurrentUser() user: AuthenticatedUser,
    @Param('characterId') id: string,
    @Body() body: CharacterInput,
    @RequestLocale() locale: Locale,
  ): Promise<CharacterDetail> {
    return this.characters.update(user.id, id, body, locale);
  }

  @Delete(':characterId')
  @HttpCode(204)
  @ContractOperation('deleteCharacter')
  async remove(@CurrentUser() user: AuthenticatedUser, @Param('characterId') id: string): Promise<void> {
    await this.characters.remove(user.id, id);
  }

  @Get(':characterId/export')
  @ContractOperation('exportCharacter')
  async export(
    @CurrentUser() user: AuthenticatedUser,
    @Param('characterId') id: string,
    @ValidQuery() query: ExportQuery,
    @Res({ passthrough: true }) response: Response,
  ): Promise<unknown> {
    const exported = await this.characters.export(user.id, id, query.format ?? 'json', query.spec ?? 'v3');
    const extension = exported.kind === 'png' ? 'png' : 'json';
    response.attachment(`${exported.name}.${extension}`);
    if (exported.kind === 'json') return exported.card;
    return new StreamableFile(exported.png, { type: 'image/png', length: exported.png.length });
  }

  @Put(':characterId/avatar')
  @ContractOperation('setCharacterAvatar')
  setAvatar(
    @CurrentUser() user: AuthenticatedUser,
    @Param('characterId') id: string,
    @Req() request: Request,
  ): Promise<CharacterDetail> {
    return this.characters.setAvatar(user.id, id, request.body as unknown);
  }
}
