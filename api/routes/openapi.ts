import { z } from '@hono/zod-openapi';

/** RFC 9457 problem document, as every 4xx/5xx answers. */
export const ProblemSchema = z
  .object({
    type: z.string().url(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    request_id: z.string().optional(),
    invalid_params: z.array(z.object({ name: z.string(), reason: z.string() })).optional(),
  })
  .openapi('Problem');

const DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid request (see invalid_params)',
  401: 'Missing, invalid, expired or revoked credentials',
  403: 'Not allowed, or the organisation is suspended',
  404: 'No such resource (or not visible to the caller)',
  409: 'Conflicts with the current state',
  412: 'If-Match is stale: the resource changed since it was read',
  413: 'Request body too large',
  422: 'Idempotency key reused with a different request, or an impossible change',
  429: 'Rate limited; see Retry-After',
};

/** Problem responses for the given statuses, for route definitions. */
export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [
      s,
      {
        description: DESCRIPTIONS[s] ?? 'Error',
        content: { 'application/problem+json': { schema: ProblemSchema } },
      },
    ]),
  );
}
