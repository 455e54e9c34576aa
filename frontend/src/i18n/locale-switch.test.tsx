import { fireEvent, render, screen } from '@solidjs/testing-library';
import { describe, expect, it } from 'vitest';
import { AuthForm } from '../auth/auth-form';
import { locale } from '../state/session';
import { LocaleSwitch } from './locale-switch';

describe('LocaleSwitch', () => {
  it('switches the rendered UI text and remembers the choice', () => {
    render(() => (
      <>
        <LocaleSwitch />
        <AuthForm />
      </>
    ));
    expect(screen.getByRole('heading', { level: 2 }).textContent).toBe('Sign in');
    expect(screen.getByLabelText('Email')).toBeTruthy();

    fireEvent.change(screen.getByLabelText('Language'), { target: { value: 'zh' } });

    expect(locale()).toBe('zh');
    expect(screen.getByRole('heading', { level: 2 }).textContent).toBe('登录');
    expect(screen.getByLabelText('邮箱')).toBeTruthy();
    expect(screen.getByLabelText<HTMLSelectElement>('语言').value).toBe('zh');
    expect(localStorage.getItem('parley.locale')).toBe('zh');
  });

  it('offers each language under its own name', () => {
    render(() => <LocaleSwitch />);

    const options = screen.getAllByRole<HTMLOptionElement>('option');
    expect(options.map((option) => option.textContent)).toEqual(['English', '中文']);
  });
});
