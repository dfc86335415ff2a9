/**
 * Renders dashboard pages on worker threads: the pages of a publication are split between
 * the threads (each renders its share from the same snapshots), so rendering uses every
 * core and runs on small heaps of its own instead of beside the refresh's. The output is
 * exactly `renderDashboardPages`' — rendering is pure, whichever pages go together. A page
 * × scope is always rendered on the same thread, whose chart cache holds the charts it drew
 * last time.
 *
 * Threads start on first use and stay for the next publication; they do not keep the
 * process alive while idle. `RENDER_THREADS` sets their number (default: the cores, at most
 * 4); 0 renders on the calling thread.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { AnySnapshot } from '../analytics/metrics/types.js';
import { PAGES, type DashboardPage } from './layout.js';
import {
  renderDashboardPages,
  renderScopes,
  stampOf,
  type RenderOptions,
  type RenderedPage,
} from './render.js';

/** One thread's share: the rows to render, each with its stamp. */
export interface RenderJob {
  snapshots: readonly unknown[];
  tenantName: string;
  schools: readonly { id: string; name: string }[];
  pages: { page: DashboardPage; scopeId: string | null; asOf: string }[];
}

interface Pending {
  resolve: (pages: RenderedPage[]) => void;
  reject: (err: Error) => void;
}

class RenderThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  failed: Error | null = null;

  constructor() {
    // Loaded through tsx's loader, as the rest of the worker process is.
    const entry = new URL('./render-thread.ts', import.meta.url).href;
    this.worker = new Worker(
      `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`,
      { eval: true },
    );
    this.worker.unref();
    this.worker.on('message', (m: { id: number; pages?: RenderedPage[]; error?: string }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.error !== undefined) p.reject(new Error(`dashboard rendering failed: ${m.error}`));
      else p.resolve(m.pages!);
    });
    const fail = (err: Error) => {
      this.failed = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`rendering thread exited (${code})`)));
  }

  render(job: RenderJob): Promise<RenderedPage[]> {
    const id = ++this.seq;
    this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...job, id });
    });
  }
}

let threads: RenderThread[] = [];

function threadCount(): number {
  const n = Number(process.env.RENDER_THREADS ?? Math.min(4, availableParallelism()));
  return Number.isInteger(n) && n >= 0 ? n : 1;
}

/** Payloads as the pages read them: per-class grade figures are not shown, so not sent. */
function forPages(snapshots: readonly AnySnapshot[]): unknown[] {
  return snapshots.map((s) =>
    s.metric === 'grades' ? { ...s, payload: { ...s.payload, classes: [] } } : s,
  );
}

/**
 * `renderDashboardPages` on the rendering threads: the same rows, in the same order.
 * `options.asOf` and `options.only` are evaluated here, per page × scope; each thread draws
 * through its own chart cache (`options.charts` applies on the calling thread only).
 */
export async function renderDashboardPagesInThreads(
  snapshots: readonly AnySnapshot[],
  options: RenderOptions,
): Promise<RenderedPage[]> {
  const count = threadCount();
  if (count === 0) return renderDashboardPages(snapshots, options);
  // Each page × scope goes to the same thread every time (by its place among all of them),
  // where the charts it drew last time are in that thread's chart cache.
  const rows = renderScopes(snapshots, options.schools)
    .scopes.flatMap((school) => PAGES.map((page) => ({ page, scopeId: school?.id ?? null })))
    .map((row, place) => ({ ...row, place }))
    .filter(({ page, scopeId }) => options.only?.(page, scopeId) ?? true)
    .map((row) => ({ ...row, asOf: stampOf(options.asOf, row.page, row.scopeId) }));
  if (rows.length === 0) return [];
  threads = threads.filter((t) => !t.failed);
  while (threads.length < count) threads.push(new RenderThread());
  const shares = threads
    .slice(0, count)
    .map((thread, i) => ({ thread, rows: rows.filter((r) => r.place % count === i) }))
    .filter((share) => share.rows.length > 0);
  const job = {
    snapshots: forPages(snapshots),
    tenantName: options.tenantName,
    schools: options.schools,
  };
  const rendered = (
    await Promise.all(
      shares.map(({ thread, rows: share }) =>
        thread.render({
          ...job,
          pages: share.map(({ page, scopeId, asOf }) => ({ page, scopeId, asOf })),
        }),
      ),
    )
  ).flat();
  // In the order `renderDashboardPages` gives.
  const byKey = new Map(rendered.map((p) => [`${p.page}|${p.scopeId ?? ''}`, p]));
  return rows.map((r) => byKey.get(`${r.page}|${r.scopeId ?? ''}`)!);
}
