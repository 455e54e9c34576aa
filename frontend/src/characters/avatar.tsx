import { Show } from 'solid-js';

/** A character's avatar (served square), or its initial when it has none. */
export function Avatar(props: { url: string | null | undefined; name: string; size?: 'small' | 'large' }) {
  return (
    <Show
      when={props.url}
      fallback={
        <span class={`avatar avatar-${props.size ?? 'small'} avatar-initial`} aria-hidden="true">
          {props.name.trim().charAt(0).toUpperCase() || '?'}
        </span>
      }
    >
      {(url) => <img class={`avatar avatar-${props.size ?? 'small'}`} src={url()} alt="" loading="lazy" />}
    </Show>
  );
}
