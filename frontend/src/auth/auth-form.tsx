import { createSignal, createUniqueId, Show } from 'solid-js';
import { ErrorBanner } from '../components/error-banner';
import { localizeValidation } from '../components/validation';
import { t } from '../i18n/i18n';
import { createAction } from '../state/create-action';
import { locale, signIn } from '../state/session';
import { login, register } from './auth.api';

type Mode = 'signIn' | 'register';

interface Credentials {
  mode: Mode;
  email: string;
  password: string;
  displayName: string;
}

/** Sign in, or register a new account; either way the session keeps the returned token. */
export function AuthForm() {
  const [mode, setMode] = createSignal<Mode>('signIn');
  const [submission, submit] = createAction(async (credentials: Credentials) => {
    const { email, password } = credentials;
    const displayName = credentials.displayName.trim();
    const auth =
      credentials.mode === 'register'
        ? await register({
            email,
            password,
            locale: locale(),
            ...(displayName ? { displayName } : {}),
          })
        : await login({ email, password });
    signIn(auth.accessToken);
    return auth.user;
  });

  const ids = { email: createUniqueId(), password: createUniqueId(), name: createUniqueId() };
  const hintId = createUniqueId();
  const titleId = createUniqueId();
  const isRegister = () => mode() === 'register';

  const onSubmit = (event: SubmitEvent & { currentTarget: HTMLFormElement }) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    submit({
      mode: mode(),
      email: String(form.get('email') ?? ''),
      password: String(form.get('password') ?? ''),
      displayName: String(form.get('displayName') ?? ''),
    });
  };

  return (
    <section class="auth card" aria-labelledby={titleId}>
      <h2 id={titleId}>{isRegister() ? t('auth.registerTitle') : t('auth.signInTitle')}</h2>
      <form class="stack" onSubmit={onSubmit} ref={localizeValidation}>
        <div class="field">
          <label for={ids.email}>{t('auth.email')}</label>
          <input id={ids.email} name="email" type="email" autocomplete="email" maxLength={254} required />
        </div>
        <div class="field">
          <label for={ids.password}>{t('auth.password')}</label>
          <input
            id={ids.password}
            name="password"
            type="password"
            autocomplete={isRegister() ? 'new-password' : 'current-password'}
            minLength={isRegister() ? 8 : 1}
            maxLength={128}
            required
            aria-describedby={isRegister() ? hintId : undefined}
          />
          <Show when={isRegister()}>
            <p id={hintId} class="hint">
              {t('auth.passwordHint')}
            </p>
          </Show>
        </div>
        <Show when={isRegister()}>
          <div class="field">
            <label for={ids.name}>{t('auth.displayName')}</label>
            <input id={ids.name} name="displayName" autocomplete="nickname" maxLength={80} />
          </div>
        </Show>
        <Show when={!submission.loading && submission.error}>{(error) => <ErrorBanner error={error()} />}</Show>
        <button type="submit" class="primary" disabled={submission.loading}>
          {submission.loading ? t('auth.submitting') : isRegister() ? t('auth.register') : t('auth.signIn')}
        </button>
      </form>
      <button type="button" class="link" onClick={() => setMode(isRegister() ? 'signIn' : 'register')}>
        {isRegister() ? t('auth.toSignIn') : t('auth.toRegister')}
      </button>
    </section>
  );
}
