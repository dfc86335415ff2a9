import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The repository explains itself: every reference from the code to a documentation page
 * (`docs/metrics.md#attendance`) and every relative link between the Markdown pages lands on
 * a file that exists and, when it names one, a heading of that file.
 */

const ROOT = resolve(import.meta.dirname, '../..');
const CODE_DIRS = ['api', 'db', 'workers', 'analytics', 'dashboards', 'scripts', 'bench', 'test'];
const PAGES = [
  'README.md',
  'BENCHMARKS.md',
  ...readdirSync(join(ROOT, 'docs')).map((f) => `docs/${f}`),
  'analytics/README.md',
  'workers/README.md',
  'dashboards/README.md',
];

function filesUnder(dir: string, ext: RegExp): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = `${dir}/${name}`;
    if (name === 'node_modules' || name.startsWith('.')) return [];
    if (statSync(join(ROOT, path)).isDirectory()) return filesUnder(path, ext);
    return ext.test(name) ? [path] : [];
  });
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

function anchorsOf(page: string): Set<string> {
  const text = readFileSync(join(ROOT, page), 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
}

/** Where a reference points: a path from the root and an optional anchor. */
interface Reference {
  from: string;
  target: string;
  anchor?: string;
}

function check(refs: Reference[]) {
  const broken = refs.filter(({ target, anchor }) => {
    if (!existsSync(join(ROOT, target))) return true;
    return anchor !== undefined && target.endsWith('.md') && !anchorsOf(target).has(anchor);
  });
  expect(broken).toEqual([]);
}

describe('documentation references', () => {
  it('every docs/… reference in the code lands on an existing page and heading', () => {
    const refs: Reference[] = [];
    for (const file of CODE_DIRS.flatMap((d) => filesUnder(d, /\.ts$/))) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const m of text.matchAll(
        /\b((?:docs|workers|analytics|dashboards)\/[\w-]+\.md)(?:#([\w-]+))?/g,
      ))
        refs.push({ from: file, target: m[1]!, anchor: m[2] });
    }
    expect(refs.filter((r) => r.target.startsWith('docs/')).length).toBeGreaterThan(20);
    check(refs);
  });

  it('cites no section of a document that is not in the repository', () => {
    const cited = CODE_DIRS.flatMap((d) => filesUnder(d, /\.(ts|md)$/))
      .filter((f) => f !== 'test/docs/links.test.ts')
      .filter((f) => /SPEC §|(?<!RFC \d+ )§\d/.test(readFileSync(join(ROOT, f), 'utf8')));
    expect(cited).toEqual([]);
  });

  it('every relative link between the Markdown pages resolves', () => {
    const refs: Reference[] = [];
    for (const page of PAGES) {
      const text = readFileSync(join(ROOT, page), 'utf8');
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1]!;
        if (/^[a-z]+:/.test(link)) continue;
        const [path, anchor] = link.split('#') as [string, string | undefined];
        const target = path ? relative(ROOT, resolve(dirname(join(ROOT, page)), path)) : page;
        refs.push({ from: page, target, anchor });
      }
    }
    expect(refs.length).toBeGreaterThan(20);
    check(refs);
  });
});
