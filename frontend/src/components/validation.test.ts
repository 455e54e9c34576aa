import { afterEach, describe, expect, it } from 'vitest';
import { setLocale } from '../state/session';
import { localizeValidation } from './validation';

function form(html: string) {
  const element = document.createElement('form');
  element.innerHTML = html;
  document.body.append(element);
  localizeValidation(element);
  return element;
}

describe('localizeValidation', () => {
  afterEach(() => {
    setLocale('en');
    document.body.innerHTML = '';
  });

  it('says what is wrong with a field in the UI language', () => {
    setLocale('zh');
    const page = form('<input name="email" type="email" required><input name="password" minlength="8" required>');
    const [email, password] = [...page.querySelectorAll('input')] as HTMLInputElement[];
    expect(page.checkValidity()).toBe(false);
    expect(email?.validationMessage).toBe('请填写此项。');

    email!.value = 'not-an-email';
    email!.dispatchEvent(new Event('input', { bubbles: true }));
    email!.checkValidity();
    expect(email?.validationMessage).toBe('请输入有效的邮箱地址。');
    expect(password?.validationMessage).toBe('请填写此项。');
  });

  it('clears the message once the value is changed, so a fixed field can be sent', () => {
    const page = form('<input name="email" type="email" required>');
    const email = page.querySelector('input')!;
    expect(email.checkValidity()).toBe(false);
    expect(email.validationMessage).toBe('Please fill in this field.');
    email.value = 'ada@example.test';
    email.dispatchEvent(new Event('input', { bubbles: true }));
    expect(email.checkValidity()).toBe(true);
  });
});
