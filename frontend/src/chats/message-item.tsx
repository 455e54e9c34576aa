import { Show } from 'solid-js';
import { formatDateTime, t } from '../i18n/i18n';
import type { ViewMessage } from '../turns/conversation.store';
import { renderMarkdown } from './markdown';
import { Avatar } from '../characters/avatar';

interface MessageItemProps {
  message: ViewMessage;
  characterName: string;
  /** The character's avatar, shown beside its replies. */
  avatarUrl?: string | null;
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
    >
      <div class="message-meta">
        <Show when={m().role === 'assistant'}>
          <Avatar url={props.avatarUrl} name={props.characterName} />
        </Show>
        <span class="message-author">{m().role === 'user' ? t('chat.you') : props.characterName}</span>
        <time datetime={m().createdAt}>{formatDateTime(m().createdAt)}</time>
        <Show when={m().role === 'assistant' && isDemo()}>
          <span class="demo-marker" title={t('chat.demoTitle')}>
            {t('chat.demo')}
          </span>
        </Show>
        <Show when={status() !== 'complete'}>
          <span class={`message-status status-${status()}`}>{t(`message.status.${status()}`)}</span>
        </Show>
      </div>
      <Show when={m().role === 'assistant'} fallback={<p class="message-content message-text">{m().content}</p>}>
        <div class="message-content markdown" innerHTML={renderMarkdown(m().content)} />
      </Show>
    </li>
  );
}
