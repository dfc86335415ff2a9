import type { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../../app-env.js';
import { tenantCors } from '../../middleware/cors.js';
import { IDEMPOTENCY_HEADER, REPLAYED_HEADER } from '../../middleware/idempotency.js';
import { registerForms } from './forms.js';
import { registerInquiries } from './inquiries.js';
import { registerProfile } from './profile.js';
import { registerTourSlots } from './tour-slots.js';
import { registerTours } from './tours.js';

/**
 * Public endpoints: no login; tenant and school come from the Host. Browsers may call them
 * only from the tenant's own domains (CORS). The global middleware resolves the tenant
 * before this runs, for preflights too.
 */
export function registerPublicRoutes(app: OpenAPIHono<AppEnv>): void {
  app.use(
    '/v1/public/*',
    tenantCors({
      allowMethods: ['GET', 'POST'],
      allowHeaders: ['content-type', IDEMPOTENCY_HEADER.toLowerCase()],
      exposeHeaders: [
        'x-request-id',
        'retry-after',
        'ratelimit-limit',
        'ratelimit-remaining',
        'ratelimit-reset',
        REPLAYED_HEADER.toLowerCase(),
      ],
    }),
  );
  registerProfile(app);
  registerInquiries(app);
  registerTourSlots(app);
  registerTours(app);
  registerForms(app);
}
