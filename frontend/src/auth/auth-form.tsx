import { createSignal, createUniqueId, Show } from 'solid-js';
import { ErrorBanner } from '../components/error-banner';
import { localizeValidation } from '../components/validation';
import { t } from '../i18n/i18n';
import { createAction } from '../state/create-action';
import { locale, signIn } from '../state/session';
import { login, register, resetPassword } from './auth.api';

type Mode = 'signIn' | 'register' | 'reset';

/** The address an operator's reset link opens: `/reset-password#token=<code>`. */
export const RESET_PATH = '/reset-password';

function resetCodeFromLink(): string {
  if (location.pathname !== RESET_PATH) return '';
  return new URLSearchParams(location.hash.slice(1)).get('token') ?? '';
}

interface Credentials {
  mode: Mode;
  email: string;
  password: string;
  displayName: string;
}

/**
 * Sign in, or register a new account, or set a new password with a reset code an operator gave
 * (Parley sends no email); each way the session keeps the returned token.
 */
export function AuthForm() {
  const linkedCode = resetCodeFromLink();
  const [mode, setMode] = createSignal<Mode>(location.pathname === RESET_PATH ? 'reset' : 'signIn');
  // The code is spent (or not wanted): keep it out of the address bar and the history. (Signed in,
  // the router sends any unknown address, this one included, home.)
  const leaveResetPath = () => {
    if (location.pathname === RESET_PATH) history.replaceState(null, '', '/');
  };
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

  const ids = { email: createUniqueId(), password: createUniqueId(), name: createUniqueId(), code: createUniqueId() };
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

  const [reset, submitReset] = createAction(async (request: { token: string; newPassword: string }) => {
    const auth = await resetPassword(request);
    leaveResetPath();
    signIn(auth.accessToken);
    return auth.user;
  });
  const explainId = createUniqueId();

  const resetForm = () => (
    <section class="auth card" aria-labelledby={titleId}>
      <h2 id={titleId}>{t('auth.resetTitle')}</h2>
      <p id={explainId} class="hint">
        {t('auth.resetExplain')}
      </p>
      <form
        class="stack"
        ref={localizeValidation}
        onSubmit={(event) => {
          event.preventDefault();
          const form = new FormData(event.currentTarget);
          submitReset({
            token: String(form.get('token') ?? '').trim(),
            newPassword: String(form.get('newPassword') ?? ''),
          });
        }}
      >
        <div class="field">
          <label for={ids.code}>{t('auth.resetCode')}</label>
          <input
            id={ids.code}
            name="token"
            autocomplete="one-time-code"
            value={linkedCode}
            minLength={16}
            maxLength={128}
            pattern="[A-Za-z0-9_\-]{16,128}"
            spellcheck={false}
            required
            aria-describedby={explainId}
          />
        </div>
        <div class="field">
          <label for={ids.password}>{t('auth.newPassword')}</label>
          <input
            id={ids.password}
            name="newPassword"
            type="password"
            autocomplete="new-password"
            minLength={8}
            maxLength={128}
            required
            aria-describedby={hintId}
          />
          <p id={hintId} class="hint">
            {t('auth.passwordHint')}
          </p>
        </div>
        <Show when={!reset.loading && reset.error}>{(error) => <ErrorBanner error={error()} />}</Show>
        <button type="submit" class="primary" disabled={reset.loading}>
          {reset.loading ? t('auth.submitting') : t('auth.resetSubmit')}
        </button>
      </form>
      <button
        type="button"
        class="link"
        onClick={() => {
          leaveResetPath();
          setMode('signIn');
        }}
      >
        {t('auth.backToSignIn')}
      </button>
    </section>
  );

  return (
    <Show when={mode() !== 'reset'} fallback={resetForm()}>
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
        <div class="auth-links">
          <Show when={!isRegister()}>
            <button type="button" class="link" onClick={() => setMode('reset')}>
              {t('auth.forgot')}
            </button>
          </Show>
          <button type="button" class="link" onClick={() => setMode(isRegister() ? 'signIn' : 'register')}>
            {isRegister() ? t('auth.toSignIn') : t('auth.toRegister')}
          </button>
        </div>
      </section>
    </Show>
  );
}
