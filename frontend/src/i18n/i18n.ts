import { createSignal } from 'solid-js';
import type { Locale } from '@parley/api-types';
import { locale } from '../state/session';
import { en, type MessageKey } from './en';
import { zh } from './zh';

export type { MessageKey };

const dictionaries: Record<Locale, Record<MessageKey, string>> = { en, zh };

// Each name is written in its own language so a reader can always find theirs.
export const localeNames: Record<Locale, string> = { en: 'English', zh: '中文' };

const bcp47: Record<Locale, string> = { en: 'en', zh: 'zh-CN' };

/** The UI string for `key` in the current locale; reactive when read in JSX or an effect. */
export function t(key: MessageKey, params?: Record<string, string | number>): string {
  const template = dictionaries[locale()][key];
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (placeholder, name: string) =>
    Object.hasOwn(params, name) ? String(params[name]) : placeholder,
  );
}

export function formatDateTime(iso: string): string {
  return new Intl.DateTimeFormat(bcp47[locale()], {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(new Date(iso));
}

const [now, setNow] = createSignal(Date.now());
if (typeof setInterval === 'function') setInterval(() => setNow(Date.now()), 30_000);

/**
 * A time as short as it can be said: "now", "5 min ago", a clock time today, a date this year,
 * a full date before that. Reactive: it moves on as time passes.
 */
export function formatRelative(iso: string): string {
  const then = new Date(iso);
  const current = new Date(now());
  const lang = bcp47[locale()];
  const minutes = Math.round((current.getTime() - then.getTime()) / 60_000);
  if (minutes < 1) return t('time.now');
  if (minutes < 60) return new Intl.RelativeTimeFormat(lang, { style: 'short' }).format(-minutes, 'minute');
  if (then.toDateString() === current.toDateString())
    return new Intl.DateTimeFormat(lang, { timeStyle: 'short' }).format(then);
  if (then.getFullYear() === current.getFullYear())
    return new Intl.DateTimeFormat(lang, { month: 'short', day: 'numeric' }).format(then);
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium' }).format(then);
}

export function formatNumber(value: number): string {
  return new Intl.NumberFormat(bcp47[locale()]).format(value);
}

export function htmlLang(value: Locale): string {
  return bcp47[value];
}
