import { A, useSearchParams } from '@solidjs/router';
import { createResource, createSignal, createUniqueId, For, onMount, Show, type JSX } from 'solid-js';
import type { SearchHit, SearchPage } from '@parley/api-types';
import { formatDateTime, formatRelative, t } from '../i18n/i18n';
import { paths } from '../routes';
import { searchMessages } from './search.api';

/** A snippet with its matches marked; built from text nodes only, never as HTML. */
export function Highlighted(props: { hit: SearchHit }) {
  const parts = () => {
    const { snippet, highlights } = props.hit;
    const out: JSX.Element[] = [];
    let at = 0;
    for (const { start, end } of highlights) {
      if (start < at || end > snippet.length) continue;
      out.push(snippet.slice(at, start), <mark>{snippet.slice(start, end)}</mark>);
      at = end;
    }
    out.push(snippet.slice(at));
    return out;
  };
  return <>{parts()}</>;
}

/** Search results for `?q=`, page by page; each opens its chat at the message. */
export function SearchResults(props: { chatTitle: (hit: SearchHit) => string }) {
  const [params] = useSearchParams<{ q?: string }>();
  const headingId = createUniqueId();
  let heading: HTMLHeadingElement | undefined;
  onMount(() => heading?.focus());
  const q = () => (params.q ?? '').trim();
  const [cursor, setCursor] = createSignal<string>();
  const [page] = createResource(
    () => (q() ? { q: q(), cursor: cursor() } : false),
    async (key, info: { value: SearchPage | undefined }): Promise<SearchPage> => {
      const next = await searchMessages(key.q, key.cursor);
      if (!key.cursor || !info.value) return next;
      return { items: [...info.value.items, ...next.items], nextCursor: next.nextCursor };
    },
  );

  return (
    <section class="search-results" aria-labelledby={headingId}>
      <A href={paths.home} class="button small back-to-list">
        ← {t('chat.back')}
      </A>
      <h2 id={headingId} ref={(element) => (heading = element)} tabIndex={-1}>
        {t('search.title', { q: q() })}
      </h2>
      <Show when={page()}>
        {(current) => (
          <>
            <p class="visually-hidden" role="status">
              {current().items.length === 0 ? t('search.none') : t('search.count', { count: current().items.length })}
            </p>
            <Show when={current().items.length > 0} fallback={<p class="muted">{t('search.none')}</p>}>
              <ol class="hits">
                <For each={current().items}>
                  {(hit) => (
                    <li class="hit">
                      <A href={paths.chatAt(hit.chatId, hit.seq)} class="hit-link">
                        <span class="hit-head">
                          <span class="hit-title">{props.chatTitle(hit)}</span>
                          <time datetime={hit.createdAt} title={formatDateTime(hit.createdAt)}>
                            {formatRelative(hit.createdAt)}
                          </time>
                        </span>
                        <span class="hit-snippet">
                          <Highlighted hit={hit} />
                        </span>
                      </A>
                    </li>
                  )}
                </For>
              </ol>
            </Show>
            <Show when={current().nextCursor}>
              {(next) => (
                <button type="button" disabled={page.loading} onClick={() => setCursor(next())}>
                  {page.loading ? t('common.loading') : t('search.more')}
                </button>
              )}
            </Show>
          </>
        )}
      </Show>
    </section>
  );
}
