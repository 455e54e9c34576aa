import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import sharp, { type Metadata } from 'sharp';
import { AppError } from '../errors/app-error.js';
import { AvatarEntity } from './avatar.entity.js';

// Larger images are refused before they are decoded; what is kept is a square at most this big.
export const MAX_INPUT_SIDE = 4096;
export const AVATAR_SIDE = 512;
const ACCEPTED_FORMATS = new Set(['png', 'jpeg', 'webp']);

export interface StoredAvatar {
  hash: string;
  mediaType: string;
  bytes: Buffer;
}

/**
 * Avatars: an upload's type is read from its bytes (sharp's decoder, not the name or the media
 * type), its size from its header before decoding; the image is decoded and re-encoded as a WebP
 * square (fitted, not cropped), which drops metadata and anything hidden after the image data
 * (polyglot files). Stored once by the SHA-256 of the result.
 */
@Injectable()
export class AvatarsService {
  constructor(@InjectRepository(AvatarEntity) private readonly avatars: Repository<AvatarEntity>) {}

  async store(upload: unknown): Promise<string> {
    const avatar = await this.encode(upload);
    await this.avatars
      .createQueryBuilder()
      .insert()
      .values({ hash: avatar.hash, mediaType: avatar.mediaType, bytes: avatar.bytes })
      .orIgnore()
      .execute();
    return avatar.hash;
  }

  async encode(upload: unknown): Promise<StoredAvatar> {
    if (!Buffer.isBuffer(upload) || upload.length === 0) {
      throw new AppError('image_unsupported', { detail: 'the body is empty' });
    }
    let metadata: Metadata;
    try {
      metadata = await sharp(upload, { limitInputPixels: false }).metadata();
    } catch {
      throw new AppError('image_unsupported', { detail: 'the body is not an image' });
    }
    const { format, width = 0, height = 0 } = metadata;
    if (!format || !ACCEPTED_FORMATS.has(format)) {
      throw new AppError('image_unsupported', { detail: `a ${format ?? 'unknown'} image is not accepted` });
    }
    if (width > MAX_INPUT_SIDE || height > MAX_INPUT_SIDE) {
      throw new AppError('image_too_large', { detail: `the image is ${width}×${height}` });
    }
    let bytes: Buffer;
    try {
      bytes = await sharp(upload, { limitInputPixels: MAX_INPUT_SIDE * MAX_INPUT_SIDE, failOn: 'error' })
        .rotate()
        .resize(AVATAR_SIDE, AVATAR_SIDE, { fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 0 } })
        .webp({ quality: 85 })
        .toBuffer();
    } catch {
      throw new AppError('image_unsupported', { detail: 'the image could not be decoded' });
    }
    return { hash: createHash('sha256').update(bytes).digest('hex'), mediaType: 'image/webp', bytes };
  }

  async get(hash: string): Promise<StoredAvatar> {
    const avatar = await this.avatars.findOneBy({ hash });
    if (!avatar) throw new AppError('avatar_not_found');
    return avatar;
  }

  /** A PNG of the avatar (or of a plain square when there is none), for a card export. */
  async png(hash: string | null): Promise<Buffer> {
    if (hash)
      return sharp((await this.get(hash)).bytes)
        .png()
        .toBuffer();
    return sharp({
      create: { width: AVATAR_SIDE, height: AVATAR_SIDE, channels: 4, background: { r: 90, g: 96, b: 120, alpha: 1 } },
    })
      .png()
      .toBuffer();
  }
}

export function avatarUrl(hash: string | null): string | null {
  return hash ? `/api/v1/avatars/${hash}` : null;
}
