import { beforeAll, describe, expect, it } from 'vitest';
import { loadMath, renderMarkdown, toPlainText } from './markdown';

const html = (text: string) => {
  const container = document.createElement('div');
  container.innerHTML = renderMarkdown(text);
  return container;
};

describe('renderMarkdown', () => {
  beforeAll(() => loadMath());

  it('renders GFM tables and task lists (checkboxes kept, read-only)', () => {
    const page = html('| a | b |\n|---|---|\n| 1 | 2 |\n\n- [x] done\n- [ ] todo');
    expect([...page.querySelectorAll('td')].map((cell) => cell.textContent)).toEqual(['1', '2']);
    const boxes = [...page.querySelectorAll('input')];
    expect(boxes.map((box) => [box.type, box.checked, box.disabled])).toEqual([
      ['checkbox', true, true],
      ['checkbox', false, true],
    ]);
  });

  it('highlights code with its language label and a copy button', () => {
    const page = html('```ts\nconst answer: number = 42;\n```');
    expect(page.querySelector('.code-lang')?.textContent).toBe('ts');
    expect(page.querySelector('button.code-copy')?.getAttribute('type')).toBe('button');
    expect(page.querySelector('code.hljs .hljs-keyword')?.textContent).toBe('const');
    expect(page.querySelector('pre code')?.textContent).toBe('const answer: number = 42;');
  });

  it('shows an unknown language as plain, escaped code', () => {
    const page = html('```klingon\n<b>qapla</b>\n```');
    expect(page.querySelector('.code-lang')?.textContent).toBe('klingon');
    expect(page.querySelector('pre code b')).toBeNull();
    expect(page.querySelector('pre code')?.textContent).toBe('<b>qapla</b>');
  });

  it('typesets $…$ and $$…$$ as MathML', () => {
    const page = html('Euler: $e^{i\\pi} + 1 = 0$\n\n$$\n\\frac{a}{b}\n$$');
    const maths = page.querySelectorAll('math');
    expect(maths).toHaveLength(2);
    expect(maths[0]?.querySelector('msup')).not.toBeNull();
    expect(maths[1]?.getAttribute('display')).toBe('block');
    expect(maths[1]?.querySelector('mfrac')).not.toBeNull();
  });

  it('neutralizes scripts, handlers and javascript: links in Markdown, code and math', () => {
    const attacks = [
      '<script>alert(1)</script><img src=x onerror=alert(2)>',
      '[x](javascript:alert(3)) <a href="javascript:alert(4)">y</a>',
      '$\\href{javascript:alert(5)}{x}$ and $x<script>alert(6)</script>$',
      '<math><mi><script>alert(7)</script></mi><maction actiontype="statusline" onclick="alert(8)">z</maction></math>',
      '```html\n<script>alert(9)</script>\n```',
      '<button onclick="alert(10)" type="submit">x</button><input type="text" value="y"><form action="/x"></form>',
      '<div class="jump-latest" style="position:fixed">dress-up</div>',
    ];
    for (const attack of attacks) {
      const page = html(attack);
      expect(page.querySelector('script, img, form, iframe, style, maction')).toBeNull();
      // (The TeX source may mention javascript: as text inside <annotation>; no attribute does.)
      const attributes = [...page.querySelectorAll('*')].flatMap((element) => [...element.attributes]);
      expect(attributes.filter((a) => /^on|^style$/i.test(a.name) || /javascript:/i.test(a.value))).toEqual([]);
      expect(page.querySelector('input:not([type="checkbox"])')).toBeNull();
      expect(page.querySelector('button:not(.code-copy)')).toBeNull();
      expect(page.querySelector('.jump-latest')).toBeNull();
    }
  });
});

describe('toPlainText', () => {
  it('keeps the words of a reply without its marks', () => {
    expect(toPlainText('# Title\n\n**Bold** and `code` with [a link](https://example.test)\n\n- one\n- two')).toBe(
      'Title Bold and code with a link one two',
    );
    expect(toPlainText('<script>alert(1)</script>safe')).toBe('safe');
  });
});
