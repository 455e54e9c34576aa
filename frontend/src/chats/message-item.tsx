import { createSignal, Show } from 'solid-js';
import { t } from '../i18n/i18n';
import { Timestamp } from '../components/timestamp';
import { versionsOf, type ViewMessage } from '../turns/conversation.store';
import { markdown } from './markdown-loader';
import { Avatar } from '../characters/avatar';
import {
  abilitiesOf,
  AlternativeSwitcher,
  MessageActions,
  MessageEditor,
  type MessageActionHandlers,
} from './message-actions';

/** What the conversation does when a message's actions are used. */
export interface MessageItemActions extends MessageActionHandlers {
  /** Show the previous (-1) or next (+1) version. */
  step: (step: -1 | 1) => void;
  /** Send the edited words; false when they were not taken. */
  save: (content: string) => boolean;
  cancelEdit: () => void;
}
import { ToolCalls } from './tool-calls';

interface MessageItemProps {
  message: ViewMessage;
  characterName: string;
  /** The character's avatar, shown beside its replies. */
  avatarUrl?: string | null;
  /** The message ends the active path (Regenerate and Continue are offered there). */
  last?: boolean;
  /** A reply is being written or the tree is changing: the actions wait. */
  busy?: boolean;
  /** The user message is open for editing in place. */
  editing?: boolean;
  /** The words the editor opens with, when not the message's own (an edit handed back). */
  editText?: string;
  actions?: MessageItemActions;
}

/** The copy button of a code block (rendered by markdown.ts) copies that block's code. */
async function copyCode(event: MouseEvent): Promise<void> {
  const button = event.target instanceof Element ? event.target.closest('.code-copy') : null;
  const code = button?.closest('.code-block')?.querySelector('pre code');
  if (!button || !code) return;
  try {
    await navigator.clipboard.writeText(code.textContent ?? '');
    button.textContent = t('markdown.copied');
  } catch {
    // No clipboard (plain http, permissions): select the code so it can be copied by hand.
    window.getSelection()?.selectAllChildren(code);
  }
  setTimeout(() => (button.textContent = t('markdown.copy')), 2000);
}

/**
 * One message. The user's words are shown as text; a reply is Markdown, sanitized before it
 * reaches the page. A stopped reply keeps its text, marked as stopped.
 */
export function MessageItem(props: MessageItemProps) {
  const m = () => props.message;
  const isDemo = () => m().demo ?? m().provider === 'demo';
  const status = () => (m().local && m().status === 'failed' ? 'unsent' : m().status);
  const cutOff = () => m().role === 'assistant' && m().status === 'complete' && m().finishReason === 'max_tokens';
  // On a touch screen, a tap on the message shows its actions (there is no hover).
  const [tapped, setTapped] = createSignal(false);
  return (
    <li
      class={`message message-${m().role}`}
      data-role={m().role}
      data-status={m().status}
      data-finish-reason={m().finishReason ?? undefined}
      data-message-id={m().local ? undefined : m().id}
      data-seq={m().local ? undefined : m().seq}
      data-last={props.last ? 'true' : undefined}
      data-tapped={tapped() ? 'true' : undefined}
      onClick={(event) => {
        if (!(event.target instanceof Element && event.target.closest('button, a, textarea'))) setTapped((on) => !on);
      }}
    >
      <div class="message-meta">
        <Show when={m().role === 'assistant'}>
          <Avatar url={props.avatarUrl} name={props.characterName} />
        </Show>
        <span class="message-author">{m().role === 'user' ? t('chat.you') : props.characterName}</span>
        <Timestamp iso={m().createdAt} />
        <Show when={m().role === 'assistant' && isDemo()}>
          <span class="demo-marker" title={t('chat.demoTitle')}>
            {t('chat.demo')}
          </span>
        </Show>
        <Show when={status() !== 'complete'}>
          <span class={`message-status status-${status()}`}>{t(`message.status.${status()}`)}</span>
        </Show>
        <Show when={cutOff()}>
          <span class="message-status status-cut-off" title={t('message.cutOffTitle')}>
            {t('message.cutOff')}
          </span>
        </Show>
      </div>
      <ToolCalls calls={m().toolCalls} />
      <Show
        when={!(props.editing && props.actions)}
        fallback={
          <MessageEditor
            content={props.editText ?? m().content}
            onSave={(content) => props.actions?.save(content) ?? false}
            onCancel={() => props.actions?.cancelEdit()}
          />
        }
      >
        <Show
          when={m().role === 'assistant' && markdown()}
          fallback={<p class="message-content message-text">{m().content}</p>}
        >
          {(renderer) => (
            <div
              class="message-content markdown"
              innerHTML={renderer().renderMarkdown(m().content)}
              onClick={(event) => void copyCode(event)}
            />
          )}
        </Show>
      </Show>
      <Show when={props.actions}>
        {(actions) => (
          <Show when={!props.editing}>
            <div class="message-footer">
              <Show when={!m().local && versionsOf(m()).count > 1}>
                <AlternativeSwitcher
                  index={versionsOf(m()).index}
                  count={versionsOf(m()).count}
                  disabled={props.busy ?? false}
                  onStep={(step) => actions().step(step)}
                />
              </Show>
              <MessageActions
                message={m()}
                abilities={abilitiesOf(m(), props.last ?? false)}
                disabled={props.busy ?? false}
                on={actions()}
              />
            </div>
          </Show>
        )}
      </Show>
    </li>
  );
}
