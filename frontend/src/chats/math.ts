import markedKatex from 'marked-katex-extension';

// KaTeX is the largest part of the renderer: its own chunk, fetched the first time a message
// has a $ in it.

// MathML only: Chromium, Firefox and Safari draw it natively, so no KaTeX fonts or CSS to load,
// and no inline styles to let through the sanitizer. Errors show the source instead of failing.
export const mathExtension = () => markedKatex({ output: 'mathml', throwOnError: false, trust: false });
