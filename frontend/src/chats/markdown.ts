import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import shell from 'highlight.js/lib/languages/shell';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import { Marked, type Tokens } from 'marked';
import { createSignal } from 'solid-js';
import { t } from '../i18n/i18n';

// Loaded after sign-in (see markdown-loader.ts): the sign-in page never downloads any of this.

// The languages replies use most; others are shown as plain code with their name.
const languages = {
  bash,
  c,
  cpp,
  css,
  go,
  java,
  javascript,
  json,
  markdown,
  python,
  rust,
  shell,
  sql,
  typescript,
  xml,
  yaml,
};
for (const [name, language] of Object.entries(languages)) hljs.registerLanguage(name, language);

const escapeHtml = (text: string) =>
  text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] ?? ch);

function codeBlock({ text, lang }: Tokens.Code): string {
  const name = (lang ?? '').trim().split(/\s+/)[0] ?? '';
  const known = name !== '' && hljs.getLanguage(name) !== undefined;
  const body = known ? hljs.highlight(text, { language: name, ignoreIllegals: true }).value : escapeHtml(text);
  const label = name ? `<span class="code-lang">${escapeHtml(name)}</span>` : '<span class="code-lang"></span>';
  return (
    `<div class="code-block"><div class="code-head">${label}` +
    `<button type="button" class="code-copy">${escapeHtml(t('markdown.copy'))}</button></div>` +
    `<pre><code class="hljs${known ? ` language-${escapeHtml(name)}` : ''}">${body}</code></pre></div>\n`
  );
}

// Replies are Markdown written by a model that reads user text: treat them as untrusted. Marked
// turns them into HTML (GFM tables and task lists, code highlighted by highlight.js, $…$ and
// $$…$$ as MathML by KaTeX) and DOMPurify keeps only inert markup: no scripts, no event
// handlers, no javascript: URLs, no forms or frames, no inline styles.
function createMarked(): Marked {
  return new Marked({ gfm: true, breaks: true, async: false }, { renderer: { code: codeBlock } });
}
const marked = createMarked();

// The same with math, once math.ts has arrived; messages with a $ render again then (reactive).
const [mathMarked, setMathMarked] = createSignal<Marked | null>(null);
let mathLoading: Promise<void> | undefined;
export function loadMath(): Promise<void> {
  mathLoading ??= import('./math').then(({ mathExtension }) => {
    const withMath = createMarked();
    withMath.use(mathExtension());
    setMathMarked(withMath);
  });
  return mathLoading;
}

// Without extensions: for plain-text previews.
const plainMarked = new Marked({ gfm: true, breaks: false, async: false });

const MATHML_TAGS = [
  'math',
  'semantics',
  'annotation',
  'mrow',
  'mi',
  'mo',
  'mn',
  'ms',
  'mtext',
  'mspace',
  'msup',
  'msub',
  'msubsup',
  'mfrac',
  'msqrt',
  'mroot',
  'mover',
  'munder',
  'munderover',
  'mtable',
  'mtr',
  'mtd',
  'mstyle',
  'mpadded',
  'mphantom',
  'menclose',
];
const MATHML_ATTRS = [
  'display',
  'mathvariant',
  'stretchy',
  'fence',
  'separator',
  'lspace',
  'rspace',
  'accent',
  'accentunder',
  'columnalign',
  'rowspacing',
  'columnspacing',
  'encoding',
  'scriptlevel',
  'displaystyle',
  'minsize',
  'maxsize',
  'movablelimits',
  'linethickness',
  'notation',
  'width',
  'height',
  'depth',
];

const ALLOWED_TAGS = [
  'p',
  'br',
  'strong',
  'em',
  'del',
  'code',
  'pre',
  'blockquote',
  'ul',
  'ol',
  'li',
  'a',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'hr',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  'span',
  'div',
  'button',
  'input',
  ...MATHML_TAGS,
];

// Only the classes our own markup uses survive, so a reply cannot dress up as the app's controls.
const OWN_CLASS =
  /^(hljs(-[\w-]+)?|language-[\w+#.-]+|code-(block|head|lang|copy)|task-list-item(-checkbox)?|contains-task-list|katex(-mathml)?|[\w-]+_)$/;

const purifier = DOMPurify();
purifier.addHook('uponSanitizeElement', (node, data) => {
  if (!(node instanceof Element)) return;
  // Task-list checkboxes only, never a text field or a button that submits anything.
  if (data.tagName === 'input' && node.getAttribute('type') !== 'checkbox') node.remove();
  if (data.tagName === 'button' && !node.classList.contains('code-copy')) node.remove();
});
purifier.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
  if (node.tagName === 'INPUT') node.setAttribute('disabled', '');
  if (node.tagName === 'BUTTON') node.setAttribute('type', 'button');
  if (node.hasAttribute('class')) {
    const kept = [...node.classList].filter((name) => OWN_CLASS.test(name));
    if (kept.length > 0) node.setAttribute('class', kept.join(' '));
    else node.removeAttribute('class');
  }
});

const SANITIZE = {
  ALLOWED_TAGS,
  ALLOWED_ATTR: ['href', 'title', 'align', 'start', 'class', 'type', 'checked', 'disabled', ...MATHML_ATTRS],
  ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#)/i,
  // Values that are never URLs: without this the strict URL rule above would drop them too.
  ADD_URI_SAFE_ATTR: ['type', 'align', 'start', ...MATHML_ATTRS],
};

export function renderMarkdown(text: string): string {
  let parser = marked;
  if (text.includes('$')) {
    parser = mathMarked() ?? marked;
    void loadMath();
  }
  return purifier.sanitize(parser.parse(text) as string, SANITIZE);
}

/** A message as one line of plain text, for chat previews: no Markdown marks, no markup. */
export function toPlainText(text: string): string {
  const fragment = purifier.sanitize(plainMarked.parse(text) as string, {
    ...SANITIZE,
    RETURN_DOM_FRAGMENT: true,
  });
  return (fragment.textContent ?? '').replace(/\s+/g, ' ').trim();
}
