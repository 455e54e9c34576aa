import { Show } from 'solid-js';
import type { Message } from '@parley/api-types';
import { formatDateTime, t } from '../i18n/i18n';

interface MessageItemProps {
  message: Message;
  characterName: string;
}

/** One message. Content is rendered as a text node, never as HTML. */
export function MessageItem(props: MessageItemProps) {
  return (
    <li class={`message message-${props.message.role}`}>
      <div class="message-meta">
        <span class="message-author">{props.message.role === 'user' ? t('chat.you') : props.characterName}</span>
        <time datetime={props.message.createdAt}>{formatDateTime(props.message.createdAt)}</time>
        <Show when={props.message.status !== 'complete'}>
          <span class={`message-status status-${props.message.status}`}>
            {t(`message.status.${props.message.status}`)}
          </span>
        </Show>
      </div>
      <p class="message-content">{props.message.content}</p>
    </li>
  );
}
