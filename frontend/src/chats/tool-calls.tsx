import { For, Show } from 'solid-js';
import type { ToolCall } from '@parley/api-types';
import { t } from '../i18n/i18n';

/** A value as short readable JSON (arguments and results are small objects). */
function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'null';
}

/**
 * The tools a reply called, inline above its text: one collapsed line per call (name, status,
 * duration) that opens to its arguments and its result or error.
 */
export function ToolCalls(props: { calls: readonly ToolCall[] | undefined }) {
  return (
    <Show when={(props.calls ?? []).length > 0}>
      <ul class="tool-calls" aria-label={t('tools.calls')}>
        <For each={props.calls}>
          {(call) => (
            <li class={`tool-call tool-${call.status}`} data-tool={call.toolName} data-status={call.status}>
              <details>
                <summary>
                  <span class="tool-name">{call.toolName}</span>
                  <span class="tool-status">{t(`tools.status.${call.status}`)}</span>
                  <Show when={call.durationMs !== null}>
                    <span class="tool-duration">{t('tools.duration', { ms: call.durationMs ?? 0 })}</span>
                  </Show>
                </summary>
                <div class="tool-body">
                  <p class="tool-label">{t('tools.arguments')}</p>
                  <pre class="tool-arguments">{pretty(call.arguments)}</pre>
                  <Show
                    when={call.error}
                    fallback={
                      <Show when={call.status === 'complete'}>
                        <p class="tool-label">{t('tools.result')}</p>
                        <pre class="tool-result">{pretty(call.result)}</pre>
                      </Show>
                    }
                  >
                    {(error) => (
                      <>
                        <p class="tool-label">{t('tools.error')}</p>
                        <pre class="tool-error">
                          {error().code}: {error().message}
                        </pre>
                      </>
                    )}
                  </Show>
                </div>
              </details>
            </li>
          )}
        </For>
      </ul>
    </Show>
  );
}

/** The calls with one more (or a newer state of one), in step and index order. */
export function withToolCall(calls: readonly ToolCall[] | undefined, call: ToolCall): ToolCall[] {
  const others = (calls ?? []).filter((c) => c.id !== call.id);
  return [...others, call].sort((a, b) => a.step - b.step || a.index - b.index);
}
