import { resolveLocale } from './locale.js';

describe('resolveLocale', () => {
  it.each([
    [undefined, 'en'],
    ['', 'en'],
    ['zh', 'zh'],
    ['zh-CN,zh;q=0.9', 'zh'],
    ['zh-TW', 'zh'],
    ['fr-FR,zh;q=0.5,en;q=0.4', 'zh'],
    ['en;q=0.2,zh;q=0.8', 'zh'],
    ['zh;q=0,en', 'en'],
    ['de, fr', 'en'],
  ])('maps %p to %s', (header, expected) => {
    expect(resolveLocale(header)).toBe(expected);
  });
});
