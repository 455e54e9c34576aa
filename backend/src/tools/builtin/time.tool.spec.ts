import { ToolFailure } from '../tool.types.js';
import { currentTime } from './time.tool.js';

describe(currentTime.name, () => {
  const instant = new Date('2026-11-28T15:04:05.000Z');

  it('gives the wall-clock time in the zone asked for', () => {
    expect(currentTime('Asia/Shanghai', instant)).toEqual({
      timeZone: 'Asia/Shanghai',
      utc: '2026-11-28T15:04:05.000Z',
      local: '2026-11-28 23:04:05',
      weekday: 'Saturday',
    });
    expect(currentTime('America/New_York', instant).local).toBe('2026-11-28 10:04:05');
  });

  it('refuses an unknown zone as invalid arguments', () => {
    expect(() => currentTime('Mars/Olympus_Mons', instant)).toThrow(ToolFailure);
  });
});
