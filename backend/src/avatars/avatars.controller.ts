import { Controller, Get, Header, Param, StreamableFile } from '@nestjs/common';
import { ContractOperation } from '../contract/contract-operation.decorator.js';
import { Public } from '../auth/public.decorator.js';
import { AvatarsService } from './avatars.service.js';

@Controller('api/v1/avatars')
@Public()
export class AvatarsController {
  constructor(private readonly avatars: AvatarsService) {}

  // Addressed by content hash, so the bytes behind a URL never change: cached for a year.
  @Get(':avatarHash')
  @ContractOperation('getAvatar')
  @Header('Cache-Control', 'public, max-age=31536000, immutable')
  async get(@Param('avatarHash') hash: string): Promise<StreamableFile> {
    const avatar = await this.avatars.get(hash);
    return new StreamableFile(avatar.bytes, {
      type: avatar.mediaType,
      length: avatar.bytes.length,
    });
  }
}
