import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';

/** A listing that hands out cursors; the name is part of what a cursor is signed for. */
export type CursorListing = 'chats' | 'search' | 'tool-calls';

// 16 bytes of HMAC-SHA256: forging one is 2^128 work, and the cursor stays short.
const MAC_BYTES = 16;
const MAC_CHARS = Math.ceil((MAC_BYTES * 4) / 3);

/**
 * Opaque page cursors: a position (a small JSON array) signed with a key derived from the
 * server's secret, bound to the user who received it and to the listing it came from. A cursor
 * that was changed, built by hand, or belongs to another user or listing is refused with the
 * same 400 as a malformed one, so nothing about other users' data can be probed through it.
 */
@Injectable()
export class CursorCodec {
  private readonly key: Buffer;

  constructor(config: AppConfig) {
    // A key of its own (HKDF), so a cursor MAC can never be confused with a token signature.
    this.key = Buffer.from(hkdfSync('sha256', config.auth.jwtSecret, '', 'parley page cursor v1', 32));
  }

  encode(listing: CursorListing, userId: string, position: readonly unknown[]): string {
    const payload = Buffer.from(JSON.stringify(position)).toString('base64url');
    return this.mac(listing, userId, payload).toString('base64url') + payload;
  }

  /** The position inside a cursor this user received from this listing, or a 400. */
  decode(listing: CursorListing, userId: string, cursor: string): unknown[] {
    // Compared as text: base64 decoding is lenient (the last character of 16 bytes carries
    // unused bits), and a cursor must have exactly one spelling.
    const mac = Buffer.from(cursor.slice(0, MAC_CHARS));
    const payload = cursor.slice(MAC_CHARS);
    const expected = Buffer.from(this.mac(listing, userId, payload).toString('base64url'));
    if (mac.length === MAC_CHARS && payload.length > 0 && timingSafeEqual(mac, expected)) {
      try {
        const position: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
        if (Array.isArray(position)) return position;
      } catch {
        // signed by us but unreadable: cannot happen short of a key collision; refused below
      }
    }
    throw invalidCursor();
  }

  private mac(listing: CursorListing, userId: string, payload: string): Buffer {
    return createHmac('sha256', this.key).update(`${listing}\n${userId}\n${payload}`).digest().subarray(0, MAC_BYTES);
  }
}

export function invalidCursor(): AppError {
  return new AppError('validation_failed', {
    errors: [
      {
        location: 'query',
        pointer: '/cursor',
        message: 'is not a cursor issued to you by this listing',
        keyword: 'cursor',
      },
    ],
  });
}
