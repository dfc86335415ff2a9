import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { registerGetMetric } from './get.js';

/** Metric snapshots published by the pipeline. */
export function registerMetricRoutes(app: OpenAPIHono<AppEnv>): void {
  registerGetMetric(app);
}
