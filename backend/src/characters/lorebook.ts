import type { LorebookFiring } from '@parley/api-types';
import type { CardBook } from './card/card.types.js';

export interface LorebookSource {
  source: LorebookFiring['source'];
  book: CardBook;
}

export interface LorebookScan {
  fired: LorebookFiring[];
  /** The fired entries' content, in insertion order. */
  contents: string[];
}

export const DEFAULT_SCAN_DEPTH = 4;
export const DEFAULT_TOKEN_BUDGET = 1000;

// The same estimate the turn's reservation uses for Latin text: about four characters a token.
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * Which lorebook entries go into the prompt: an enabled entry fires when one of its keys appears
 * in the last `scan_depth` messages (and, when it is selective with secondary keys, one of those
 * too), or always when it is constant. Fired entries are taken in `insertion_order` (lowest
 * first; ties keep book and entry order) while each book's token budget allows.
 */
export function scanLorebooks(sources: LorebookSource[], history: string[]): LorebookScan {
  const candidates: Array<LorebookFiring & { order: number; content: string; book: number }> = [];
  sources.forEach(({ source, book }, bookIndex) => {
    const window = history.slice(-(book.scan_depth ?? DEFAULT_SCAN_DEPTH)).join('\n');
    const lower = window.toLowerCase();
    book.entries.forEach((entry, index) => {
      if (entry.enabled === false || entry.content.trim() === '') return;
      const found = (keys: string[] | undefined) =>
        (keys ?? []).find(
          (key) =>
            key !== '' &&
            (entry.case_sensitive ? window : lower).includes(entry.case_sensitive ? key : key.toLowerCase()),
        );
      let keyword: string | null = null;
      if (!entry.constant) {
        const primary = found(entry.keys);
        if (primary === undefined) return;
        if (entry.selective && (entry.secondary_keys ?? []).length > 0 && found(entry.secondary_keys) === undefined)
          return;
        keyword = primary;
      }
      candidates.push({
        source,
        entry: index,
        name: entry.name?.trim() || null,
        keyword,
        order: entry.insertion_order,
        content: entry.content,
        book: bookIndex,
      });
    });
  });
  candidates.sort((a, b) => a.order - b.order || a.book - b.book || a.entry - b.entry);
  const spent = new Map<number, number>();
  const fired: LorebookFiring[] = [];
  const contents: string[] = [];
  for (const candidate of candidates) {
    const budget = sources[candidate.book]!.book.token_budget ?? DEFAULT_TOKEN_BUDGET;
    const cost = estimateTokens(candidate.content);
    const used = spent.get(candidate.book) ?? 0;
    if (used + cost > budget) continue;
    spent.set(candidate.book, used + cost);
    fired.push({ source: candidate.source, entry: candidate.entry, name: candidate.name, keyword: candidate.keyword });
    contents.push(candidate.content);
  }
  return { fired, contents };
}
