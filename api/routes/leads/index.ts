import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { registerLeadConvert } from './convert.js';
import { registerLeadDetail } from './detail.js';
import { registerListLeads } from './list.js';
import { registerLeadStage } from './stage.js';
import { registerTourSlots } from './tour-slots.js';
import { registerLeadUpdate } from './update.js';

/** Admissions leads for staff. */
export function registerLeadRoutes(app: OpenAPIHono<AppEnv>): void {
  registerListLeads(app);
  registerLeadDetail(app);
  registerLeadUpdate(app);
  registerLeadStage(app);
  registerLeadConvert(app);
  registerTourSlots(app);
}
