/**
 * A rendering thread (`render-pool.ts`): renders the page × scope rows it is sent from the
 * snapshots it is sent, with the same `renderDashboardPages` as the main thread.
 */
import { parentPort } from 'node:worker_threads';
import type { AnySnapshot } from '../analytics/metrics/types.js';
import { renderDashboardPages } from './render.js';
import type { RenderJob } from './render-pool.js';

parentPort!.on('message', (job: RenderJob & { id: number }) => {
  try {
    const stamps = new Map(job.pages.map((p) => [`${p.page}|${p.scopeId ?? ''}`, p.asOf]));
    const pages = renderDashboardPages(job.snapshots as AnySnapshot[], {
      tenantName: job.tenantName,
      schools: job.schools,
      asOf: (page, scopeId) => stamps.get(`${page}|${scopeId ?? ''}`)!,
      only: (page, scopeId) => stamps.has(`${page}|${scopeId ?? ''}`),
    });
    parentPort!.postMessage({ id: job.id, pages });
  } catch (err) {
    parentPort!.postMessage({ id: job.id, error: (err as Error)?.stack ?? String(err) });
  }
});
