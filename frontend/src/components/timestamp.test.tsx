import { fireEvent, render, screen } from '@solidjs/testing-library';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { formatDateTime } from '../i18n/i18n';
import { setLocale } from '../state/session';
import { LONG_PRESS_MS, Timestamp } from './timestamp';

const iso = '2025-03-04T05:06:07.000Z';

describe('Timestamp', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const time = () => document.querySelector('time')!;
  const full = () => screen.queryByRole('tooltip');

  it('is compact, with the full time as its title and label', () => {
    render(() => <Timestamp iso={iso} />);
    expect(time().getAttribute('datetime')).toBe(iso);
    expect(time().title).toBe(formatDateTime(iso));
    expect(time().getAttribute('aria-label')).toBe(formatDateTime(iso));
    expect(time().textContent).not.toBe(formatDateTime(iso));
    expect(full()).toBeNull();
  });

  it('shows the full time after a long press, tied to the time, until the next touch', () => {
    render(() => <Timestamp iso={iso} />);
    fireEvent.pointerDown(time(), { pointerType: 'touch', clientX: 10, clientY: 10 });
    vi.advanceTimersByTime(LONG_PRESS_MS - 1);
    expect(full()).toBeNull();
    vi.advanceTimersByTime(1);
    expect(full()?.textContent).toBe(formatDateTime(iso));
    expect(time().getAttribute('aria-describedby')).toBe(full()?.id);
    // The browser's long-press menu is kept away while it shows.
    const menu = new MouseEvent('contextmenu', { bubbles: true, cancelable: true });
    time().dispatchEvent(menu);
    expect(menu.defaultPrevented).toBe(true);
    fireEvent.pointerUp(time(), { pointerType: 'touch' });
    expect(full()).not.toBeNull();
    fireEvent.pointerDown(document.body, { pointerType: 'touch' });
    expect(full()).toBeNull();
    expect(time().hasAttribute('aria-describedby')).toBe(false);
  });

  it('puts the full time away by itself after a few seconds', () => {
    render(() => <Timestamp iso={iso} />);
    fireEvent.pointerDown(time(), { pointerType: 'pen' });
    vi.advanceTimersByTime(LONG_PRESS_MS);
    expect(full()).not.toBeNull();
    vi.advanceTimersByTime(4000);
    expect(full()).toBeNull();
  });

  it('ignores a tap, a scroll that starts on it, and the mouse (which has the title)', () => {
    render(() => <Timestamp iso={iso} />);
    fireEvent.pointerDown(time(), { pointerType: 'touch', clientX: 10, clientY: 10 });
    vi.advanceTimersByTime(200);
    fireEvent.pointerUp(time(), { pointerType: 'touch' });
    vi.advanceTimersByTime(LONG_PRESS_MS);
    expect(full()).toBeNull();

    fireEvent.pointerDown(time(), { pointerType: 'touch', clientX: 10, clientY: 10 });
    fireEvent.pointerMove(time(), { pointerType: 'touch', clientX: 10, clientY: 40 });
    vi.advanceTimersByTime(LONG_PRESS_MS);
    expect(full()).toBeNull();

    fireEvent.pointerDown(time(), { pointerType: 'mouse' });
    vi.advanceTimersByTime(LONG_PRESS_MS);
    expect(full()).toBeNull();
  });

  it('says the full time in the UI language', () => {
    setLocale('zh');
    render(() => <Timestamp iso={iso} />);
    fireEvent.pointerDown(time(), { pointerType: 'touch' });
    vi.advanceTimersByTime(LONG_PRESS_MS);
    expect(full()?.textContent).toMatch(/2025年3月4日/);
  });
});
