import { Show } from 'solid-js';
import { formatDateTime, formatRelative, t } from '../i18n/i18n';
import type { ViewMessage } from '../turns/conversation.store';
import { markdown } from './markdown-loader';
import { Avatar } from '../characters/avatar';
import { ToolCalls } from './tool-calls';

interface MessageItemProps {
  message: ViewMessage;
  characterName: string;
  /** The character's avatar, shown beside its replies. */
  avatarUrl?: string | null;
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
  return (
    <li
      class={`message message-${m().role}`}
      data-role={m().role}
      data-status={m().status}
      data-message-id={m().local ? undefined : m().id}
      data-seq={m().local ? undefined : m().seq}
    >
      <div class="message-meta">
        <Show when={m().role === 'assistant'}>
          <Avatar url={props.avatarUrl} name={props.characterName} />
        </Show>
        <span class="message-author">{m().role === 'user' ? t('chat.you') : props.characterName}</span>
        {/* Compact; the full date and time on hover and for screen readers. */}
        <time datetime={m().createdAt} title={formatDateTime(m().createdAt)} aria-label={formatDateTime(m().createdAt)}>
          {formatRelative(m().createdAt)}
        </time>
        <Show when={m().role === 'assistant' && isDemo()}>
          <span class="demo-marker" title={t('chat.demoTitle')}>
            {t('chat.demo')}
          </span>
        </Show>
        <Show when={status() !== 'complete'}>
          <span class={`message-status status-${status()}`}>{t(`message.status.${status()}`)}</span>
        </Show>
      </div>
      <ToolCalls calls={m().toolCalls} />
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
    </li>
  );
}
