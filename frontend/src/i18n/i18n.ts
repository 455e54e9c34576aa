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

export function formatNumber(value: number): string {
  return new Intl.NumberFormat(bcp47[locale()]).format(value);
}

export function htmlLang(value: Locale): string {
  return bcp47[value];
}
