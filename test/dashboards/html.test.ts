import { describe, expect, it } from 'vitest';
import { Html, html, join, raw } from '../../dashboards/html.js';

// The pages' template: text is escaped unless it is markup built by `html` or marked `raw`.

describe('html template', () => {
  const hostile = `<script>alert("x")</script> & 'y'`;
  const escaped = '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;';

  it('escapes text in element content and in quoted attributes', () => {
    const out = html`<p title="${hostile}">${hostile}</p>`;
    expect(out).toBeInstanceOf(Html);
    expect(out.value).toBe(`<p title="${escaped}">${escaped}</p>`);
  });

  it('places fragments built by html and raw markup as they are, once', () => {
    const inner = html`<b>${hostile}</b>`;
    expect(html`<p>${inner}</p>`.value).toBe(`<p><b>${escaped}</b></p>`);
    expect(html`<div>${raw('<svg><title>a &amp; b</title></svg>')}</div>`.value).toBe(
      '<div><svg><title>a &amp; b</title></svg></div>',
    );
  });

  it('writes numbers, lists in order, and nothing for null, undefined and false', () => {
    const items = ['a<', html`<i>b</i>`, [1, null, [undefined, false, 'c']]] as const;
    expect(html`<p>${items}|${0}|${null}${undefined}${false}</p>`.value).toBe(
      '<p>a&lt;<i>b</i>1c|0|</p>',
    );
  });

  it('joins values with an escaped separator', () => {
    expect(join(['<a>', html`<b></b>`, 'c'], ' & ').value).toBe('&lt;a&gt; &amp; <b></b> &amp; c');
    expect(join([], '\n').value).toBe('');
  });

  it('leaves text without special characters as it is', () => {
    const text = 'Attendance rate (ADA) by school — 96.1%';
    expect(html`${text}`.value).toBe(text);
    expect(`${html`<p>${text}</p>`}`).toBe(`<p>${text}</p>`);
  });
});
