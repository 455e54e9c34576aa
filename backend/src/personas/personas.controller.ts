import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import type { Locale, Persona, PersonaInput, PersonaList } from '@parley/api-types';
import { ContractOperation } from '../contract/contract-operation.decorator.js';
import { CurrentUser, type AuthenticatedUser } from '../auth/current-user.decorator.js';
import { RequestLocale } from '../i18n/request-locale.decorator.js';
import { PersonasService } from './personas.service.js';

@Controller('api/v1/me/personas')
export class PersonasController {
  constructor(private readonly personas: PersonasService) {}

  @Get()
  @ContractOperation('listPersonas')
  list(@CurrentUser() user: AuthenticatedUser): Promise<PersonaList> {
    return this.personas.list(user.id);
  }

  @Post()
  @ContractOperation('createPersona')
  create(
    @CurrentUser() user: AuthenticatedUser,
    @Body() body: PersonaInput,
    @RequestLocale() locale: Locale,
  ): Promise<Persona> {
    return this.personas.create(user.id, body, locale);
  }

  @Put(':personaId')
  @ContractOperation('updatePersona')
  update(
    @CurrentUser() user: AuthenticatedUser,
    @Param('personaId') id: string,
    @Body() body: PersonaInput,
    @RequestLocale() locale: Locale,
  ): Promise<Persona> {
    return this.personas.update(user.id, id, body, locale);
  }

  @Delete(':personaId')
  @HttpCode(204)
  @ContractOperation('deletePersona')
  async remove(@CurrentUser() user: AuthenticatedUser, @Param('personaId') id: string): Promise<void> {
    await this.personas.remove(user.id, id);
  }
}
