import { scanLorebooks } from './lorebook.js';
import type { CardBook, CardBookEntry } from './card/card.types.js';

function entry(overrides: Partial<CardBookEntry>): CardBookEntry {
  return { keys: [], content: 'c', extensions: {}, enabled: true, insertion_order: 100, ...overrides };
}

function book(entries: CardBookEntry[], extra: Partial<CardBook> = {}): CardBook {
  return { extensions: {}, entries, ...extra };
}

describe(scanLorebooks.name, () => {
  it('fires on a key in the scanned window only', () => {
    const scan = scanLorebooks(
      [{ source: 'character', book: book([entry({ keys: ['Moon'], content: 'M' })], { scan_depth: 2 }) }],
      ['the moon rises', 'a', 'b'],
    );
    expect(scan.fired).toEqual([]);
    const inWindow = scanLorebooks(
      [{ source: 'character', book: book([entry({ keys: ['Moon'], content: 'M' })], { scan_depth: 3 }) }],
      ['the moon rises', 'a', 'b'],
    );
    expect(inWindow.fired).toEqual([{ source: 'character', entry: 0, name: null, keyword: 'Moon' }]);
  });

  it('honours case sensitivity, secondary keys, disabled and constant entries', () => {
    const scan = scanLorebooks(
      [
        {
          source: 'chat',
          book: book([
            entry({ keys: ['Moon'], case_sensitive: true, content: 'A' }),
            entry({ keys: ['moon'], selective: true, secondary_keys: ['sun'], content: 'B' }),
            entry({ keys: ['moon'], selective: true, secondary_keys: ['tide'], content: 'C' }),
            entry({ keys: ['moon'], enabled: false, content: 'D' }),
            entry({ constant: true, content: 'E' }),
          ]),
        },
      ],
      ['the moon and the tide'],
    );
    expect(scan.contents.sort()).toEqual(['C', 'E']);
  });

  it('takes entries in insertion order while the token budget allows', () => {
    const scan = scanLorebooks(
      [
        {
          source: 'character',
          book: book(
            [
              entry({ keys: ['x'], insertion_order: 3, content: 'c'.repeat(8) }),
              entry({ keys: ['x'], insertion_order: 1, content: 'a'.repeat(8) }),
              entry({ keys: ['x'], insertion_order: 2, content: 'b'.repeat(40) }),
            ],
            { token_budget: 4 },
          ),
        },
      ],
      ['x'],
    );
    expect(scan.contents).toEqual(['a'.repeat(8), 'c'.repeat(8)]);
    expect(scan.fired.map((f) => f.entry)).toEqual([1, 0]);
  });
});
