import { expandMacros } from './macros.js';

describe(expandMacros.name, () => {
  it('replaces {{char}} and {{user}} in any case, and the older <BOT>/<USER>', () => {
    expect(expandMacros('{{user}} meets {{Char}}; <USER> and <BOT>', { char: 'Ada', user: 'Sam' })).toBe(
      'Sam meets Ada; Sam and Ada',
    );
  });

  it('does not expand macros inside the names it inserts', () => {
    expect(expandMacros('{{user}}', { char: 'Ada', user: '{{char}}' })).toBe('{{char}}');
  });
});
