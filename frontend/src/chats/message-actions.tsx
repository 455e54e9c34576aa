import { createSignal, createUniqueId, onCleanup, onMount, Show } from 'solid-js';
import { t } from '../i18n/i18n';
import { LIVE_STATUSES, type ViewMessage } from '../turns/conversation.store';

/** What can be done to a message, given where it is on the path and whether the chat is busy. */
export interface MessageAbilities {
  regenerate: boolean;
  edit: boolean;
  continue: boolean;
  delete: boolean;
  fork: boolean;
}

/**
 * The actions a message offers (specs/009-conversation-tree). `last`: it ends the active path.
 * The greeting (a root) can be copied and forked, nothing else; a message being written offers
 * nothing until it ends.
 */
export function abilitiesOf(message: ViewMessage, last: boolean): MessageAbilities {
  const stored = !message.local;
  const ended = stored && !LIVE_STATUSES.has(message.status);
  const root = message.parentId === null;
  const reply = message.role === 'assistant';
  return {
    // The last reply in any state, or a user message the path ends on without a reply.
    regenerate: ended && last && !root,
    edit: ended && !reply,
    continue: ended && last && reply && !root && continuable(message),
    delete: ended && !root,
    fork: ended && (message.status === 'complete' || (message.status === 'cancelled' && message.content !== '')),
  };
}

/** A reply cut at the length limit, or stopped with some text: the model can go on. */
export function continuable(message: ViewMessage): boolean {
  if (message.finishReason === 'max_tokens') return true;
  return (message.finishReason === 'stopped' || message.status === 'cancelled') && message.content !== '';
}

export interface MessageActionHandlers {
  regenerate: () => void;
  edit: () => void;
  continue: () => void;
  delete: () => void;
  fork: () => void;
}

/**
 * The row of buttons under a message. Real buttons with names, so they work by keyboard and
 * for screen readers; the stylesheet keeps them visible on touch screens and on the last
 * message, and shows the others' on hover or focus.
 */
export function MessageActions(props: {
  message: ViewMessage;
  abilities: MessageAbilities;
  disabled: boolean;
  on: MessageActionHandlers;
}) {
  const [copied, setCopied] = createSignal(false);
  let timer: ReturnType<typeof setTimeout> | undefined;
  onCleanup(() => clearTimeout(timer));
  const copy = async (button: HTMLButtonElement) => {
    try {
      await navigator.clipboard.writeText(props.message.content);
      setCopied(true);
      clearTimeout(timer);
      timer = setTimeout(() => setCopied(false), 2000);
    } catch {
      // No clipboard (plain http, permissions): select the text so it can be copied by hand.
      const content = button.closest('.message')?.querySelector('.message-content');
      if (content) window.getSelection()?.selectAllChildren(content);
    }
  };
  return (
    <div class="message-actions" role="group" aria-label={t('message.actions')}>
      <Show when={props.message.content !== ''}>
        <button type="button" class="small ghost" onClick={(event) => void copy(event.currentTarget)}>
          {copied() ? t('message.copied') : t('message.copy')}
        </button>
      </Show>
      <Show when={props.abilities.continue}>
        <button type="button" class="small ghost" disabled={props.disabled} onClick={() => props.on.continue()}>
          {t('message.continue')}
        </button>
      </Show>
      <Show when={props.abilities.regenerate}>
        <button type="button" class="small ghost" disabled={props.disabled} onClick={() => props.on.regenerate()}>
          {t('message.regenerate')}
        </button>
      </Show>
      <Show when={props.abilities.edit}>
        <button type="button" class="small ghost" disabled={props.disabled} onClick={() => props.on.edit()}>
          {t('message.edit')}
        </button>
      </Show>
      <Show when={props.abilities.fork}>
        <button
          type="button"
          class="small ghost"
          title={t('message.forkTitle')}
          disabled={props.disabled}
          onClick={() => props.on.fork()}
        >
          {t('message.fork')}
        </button>
      </Show>
      <Show when={props.abilities.delete}>
        <button
          type="button"
          class="small ghost danger-text"
          disabled={props.disabled}
          onClick={() => {
            if (window.confirm(t('message.deleteConfirm'))) props.on.delete();
          }}
        >
          {t('message.delete')}
        </button>
      </Show>
    </div>
  );
}

/** ‹ n/m ›: the versions of a message (its siblings); the arrows show the one before or after. */
export function AlternativeSwitcher(props: {
  index: number;
  count: number;
  disabled: boolean;
  onStep: (step: -1 | 1) => void;
}) {
  return (
    <div
      class="alternatives"
      role="group"
      aria-label={t('message.version', { index: props.index, count: props.count })}
    >
      <button
        type="button"
        class="small ghost"
        aria-label={t('message.previous')}
        disabled={props.disabled || props.index <= 1}
        onClick={() => props.onStep(-1)}
      >
        ‹
      </button>
      <span class="alternatives-position" aria-hidden="true">
        {props.index}/{props.count}
      </span>
      <button
        type="button"
        class="small ghost"
        aria-label={t('message.next')}
        disabled={props.disabled || props.index >= props.count}
        onClick={() => props.onStep(1)}
      >
        ›
      </button>
    </div>
  );
}

/** A user message edited in place: Save sends it as a new version, Cancel or Escape leaves it as it was. */
export function MessageEditor(props: { content: string; onSave: (content: string) => boolean; onCancel: () => void }) {
  const inputId = createUniqueId();
  const hintId = createUniqueId();
  // Seeded once: the edit starts from the words as they were.
  const [text, setText] = createSignal(props.content);
  let input: HTMLTextAreaElement | undefined;
  onMount(() => {
    input?.focus();
    input?.setSelectionRange(input.value.length, input.value.length);
  });
  const save = () => props.onSave(text());
  return (
    <form
      class="message-editor"
      onSubmit={(event) => {
        event.preventDefault();
        save();
      }}
    >
      <label for={inputId} class="visually-hidden">
        {t('message.editLabel')}
      </label>
      <textarea
        ref={(element) => (input = element)}
        id={inputId}
        rows={3}
        maxLength={8000}
        aria-describedby={hintId}
        value={text()}
        onInput={(event) => setText(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.isComposing) return;
          if (event.key === 'Escape') {
            // The chat's own Escape (stop a reply) must not see it.
            event.preventDefault();
            event.stopPropagation();
            props.onCancel();
          } else if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
            event.preventDefault();
            save();
          }
        }}
      />
      <p id={hintId} class="hint">
        {t('message.editHint')}
      </p>
      <div class="message-editor-actions">
        <button type="button" class="small" onClick={() => props.onCancel()}>
          {t('common.cancel')}
        </button>
        <button type="submit" class="small primary" disabled={text().trim() === ''}>
          {t('message.save')}
        </button>
      </div>
    </form>
  );
}
