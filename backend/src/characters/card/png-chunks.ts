import { inflateSync } from 'node:zlib';
import CRC32 from 'crc-32';
import { AppError } from '../../errors/app-error.js';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
// A card's text is at most this long once decoded (base64 of the largest card Parley accepts).
export const MAX_CARD_TEXT_BYTES = 4 * 1024 * 1024;

export interface PngChunk {
  type: string;
  data: Buffer;
}

export function isPng(bytes: Buffer): boolean {
  return bytes.length >= SIGNATURE.length && bytes.subarray(0, SIGNATURE.length).equals(SIGNATURE);
}

/** The chunks of a PNG, each length and CRC checked; anything malformed is `card_unreadable`. */
export function readChunks(bytes: Buffer): PngChunk[] {
  if (!isPng(bytes)) throw new AppError('image_unsupported', { detail: 'the body is not a PNG image' });
  const chunks: PngChunk[] = [];
  let at = SIGNATURE.length;
  while (at < bytes.length) {
    if (at + 12 > bytes.length) throw unreadable('the PNG ends inside a chunk header');
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('latin1', at + 4, at + 8);
    if (at + 12 + length > bytes.length) throw unreadable(`the PNG's ${type} chunk runs past the end of the file`);
    const data = bytes.subarray(at + 8, at + 8 + length);
    const crc = bytes.readInt32BE(at + 8 + length);
    if (CRC32.buf(data, CRC32.bstr(type)) !== crc) throw unreadable(`the PNG's ${type} chunk has a wrong CRC`);
    chunks.push({ type, data });
    at += 12 + length;
    if (type === 'IEND') break;
  }
  return chunks;
}

export function encodeChunks(chunks: PngChunk[]): Buffer {
  const parts: Buffer[] = [SIGNATURE];
  for (const { type, data } of chunks) {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const tail = Buffer.alloc(4);
    tail.writeInt32BE(CRC32.buf(data, CRC32.bstr(type)), 0);
    parts.push(head, data, tail);
  }
  return Buffer.concat(parts);
}

/** A `tEXt` chunk (Latin-1 keyword and text; a card's base64 text is ASCII). */
export function textChunk(keyword: string, text: string): PngChunk {
  return {
    type: 'tEXt',
    data: Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]),
  };
}

/**
 * The text of every `tEXt`, `zTXt` and `iTXt` chunk, by keyword. Compressed text is inflated
 * with an output limit, so a small chunk that inflates to gigabytes is refused, not expanded.
 */
export function readTexts(chunks: PngChunk[]): Map<string, string> {
  const texts = new Map<string, string>();
  for (const { type, data } of chunks) {
    if (type !== 'tEXt' && type !== 'zTXt' && type !== 'iTXt') continue;
    const nul = data.indexOf(0);
    if (nul < 1) continue;
    const keyword = data.toString('latin1', 0, nul);
    if (type === 'tEXt') {
      texts.set(keyword, data.toString('latin1', nul + 1));
    } else if (type === 'zTXt') {
      texts.set(keyword, inflate(data.subarray(nul + 2), keyword).toString('latin1'));
    } else {
      // iTXt: keyword NUL, compression flag, method, language tag NUL, translated keyword NUL, text (UTF-8).
      const compressed = data[nul + 1] === 1;
      const language = data.indexOf(0, nul + 3);
      const translated = language < 0 ? -1 : data.indexOf(0, language + 1);
      if (translated < 0) throw unreadable(`the PNG's iTXt chunk ${keyword} is malformed`);
      const body = data.subarray(translated + 1);
      texts.set(keyword, (compressed ? inflate(body, keyword) : body).toString('utf8'));
    }
  }
  return texts;
}

function inflate(data: Buffer, keyword: string): Buffer {
  try {
    return inflateSync(data, { maxOutputLength: MAX_CARD_TEXT_BYTES });
  } catch {
    throw unreadable(`the PNG's compressed ${keyword} text is corrupt or inflates past ${MAX_CARD_TEXT_BYTES} bytes`);
  }
}

function unreadable(detail: string): AppError {
  return new AppError('card_unreadable', { detail });
}
