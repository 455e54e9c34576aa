import { createUniqueId, For } from 'solid-js';
import { isLocale, locale, locales, setLocale } from '../state/session';
import { localeNames, t } from './i18n';

export function LocaleSwitch() {
  const id = createUniqueId();
  return (
    <div class="locale-switch">
      <label for={id}>{t('locale.label')}</label>
      <select
        id={id}
        onChange={(event) => {
          const value = event.currentTarget.value;
          if (isLocale(value)) setLocale(value);
        }}
      >
        <For each={locales}>
          {(option) => (
            <option value={option} lang={option} selected={option === locale()}>
              {localeNames[option]}
            </option>
          )}
        </For>
      </select>
    </div>
  );
}
