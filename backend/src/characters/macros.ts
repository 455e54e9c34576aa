/** The names `{{char}}` and `{{user}}` stand for (and the older `<BOT>` / `<USER>`). */
export interface MacroNames {
  char: string;
  user: string;
}

// Without a persona the user is called this in prompts and greetings.
export const DEFAULT_USER_NAME = 'User';

export function expandMacros(text: string, names: MacroNames): string {
  return text.replace(
    /\{\{(char|user)\}\}|<(BOT|USER)>/gi,
    (_match, braced: string | undefined, legacy: string | undefined) =>
      (braced ?? legacy)!.toLowerCase() === 'user' ? names.user : names.char,
  );
}
