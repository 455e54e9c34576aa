import { createEffect, createSignal, createUniqueId, onCleanup, Show } from 'solid-js';
import { formatDateTime, formatRelative } from '../i18n/i18n';

/** How long a finger rests on a time before its full form shows. */
export const LONG_PRESS_MS = 500;
/** How far a finger may drift (px) and still be a press, not a scroll. */
const DRIFT_PX = 10;
/** How long the full time stays up after a long press. */
const SHOWN_MS = 4000;

/**
 * A time, compact ("5 min ago", "14:05", "Mar 3"). The full date and time: on hover (the title,
 * in the UI's language), for screen readers (the label), and on touch screens by a long press,
 * which shows it beside the compact one until the next touch or a few seconds later.
 */
export function Timestamp(props: { iso: string }) {
  const tipId = createUniqueId();
  const [shown, setShown] = createSignal(false);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let start: { x: number; y: number } | null = null;

  const cancel = () => {
    clearTimeout(timer);
    timer = undefined;
    start = null;
  };
  const onPointerDown = (event: PointerEvent) => {
    // A mouse hovers (the title does the work); a finger or a pen presses.
    if (event.pointerType === 'mouse') return;
    cancel();
    start = { x: event.clientX, y: event.clientY };
    timer = setTimeout(() => {
      timer = undefined;
      start = null;
      setShown(true);
    }, LONG_PRESS_MS);
  };
  const onPointerMove = (event: PointerEvent) => {
    if (start && Math.hypot(event.clientX - start.x, event.clientY - start.y) > DRIFT_PX) cancel();
  };

  createEffect(() => {
    if (!shown()) return;
    const hide = () => setShown(false);
    const hideTimer = setTimeout(hide, SHOWN_MS);
    // The next touch anywhere puts it away (registered after the press that showed it).
    document.addEventListener('pointerdown', hide, { capture: true });
    onCleanup(() => {
      clearTimeout(hideTimer);
      document.removeEventListener('pointerdown', hide, { capture: true });
    });
  });
  onCleanup(cancel);

  return (
    <span class="timestamp">
      <time
        datetime={props.iso}
        title={formatDateTime(props.iso)}
        aria-label={formatDateTime(props.iso)}
        aria-describedby={shown() ? tipId : undefined}
        onPointerDown={onPointerDown}
        onPointerMove={onPointerMove}
        onPointerUp={cancel}
        onPointerCancel={cancel}
        onPointerLeave={cancel}
        // The press that showed the full time should not also open the browser's menu.
        onContextMenu={(event) => {
          if (shown() || timer !== undefined) event.preventDefault();
        }}
      >
        {formatRelative(props.iso)}
      </time>
      <Show when={shown()}>
        <span id={tipId} role="tooltip" class="timestamp-full">
          {formatDateTime(props.iso)}
        </span>
      </Show>
    </span>
  );
}
