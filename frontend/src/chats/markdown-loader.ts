import { createSignal } from 'solid-js';

type MarkdownModule = typeof import('./markdown');

// The renderer (Marked, DOMPurify, highlight.js, KaTeX) is its own chunk, fetched once the user
// is signed in; until it arrives messages and previews show their plain text.
const [loaded, setLoaded] = createSignal<MarkdownModule | null>(null);
let loading: Promise<MarkdownModule> | undefined;

export function loadMarkdown(): Promise<MarkdownModule> {
  loading ??= import('./markdown').then((module) => {
    setLoaded(module);
    return module;
  });
  return loading;
}

/** The renderer once loaded (reactive), or null; asking for it starts the download. */
export function markdown(): MarkdownModule | null {
  if (!loading) void loadMarkdown();
  return loaded();
}
