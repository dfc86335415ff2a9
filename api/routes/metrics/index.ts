import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';

/** Metric snapshots published by the pipeline. */
export function registerMetricRoutes(app: OpenAPIHono<AppEnv>): void {
  void app;
}
