import { t } from '../i18n/i18n';

type Field = HTMLInputElement | HTMLTextAreaElement;

/** What is wrong with a field, in the UI's language (the browser's own text is in its language). */
export function validationMessage(field: Field): string {
  const validity = field.validity;
  if (validity.valueMissing) return t('validation.required');
  if (validity.typeMismatch && field.type === 'email') return t('validation.email');
  if (validity.tooShort) return t('validation.tooShort', { min: field.minLength });
  if (validity.tooLong) return t('validation.tooLong', { max: field.maxLength });
  return '';
}

/**
 * Makes the browser's validation bubbles for a form's fields speak the UI's language. Use as
 * `ref={localizeValidation}` on a <form>.
 */
export function localizeValidation(form: HTMLFormElement): void {
  // `invalid` does not bubble: listen while it travels down.
  form.addEventListener(
    'invalid',
    (event) => {
      const field = event.target;
      if (!(field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement)) return;
      field.setCustomValidity('');
      field.setCustomValidity(validationMessage(field));
    },
    true,
  );
  // A changed value is judged afresh.
  form.addEventListener('input', (event) => {
    const field = event.target;
    if (field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement) field.setCustomValidity('');
  });
}
