import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { SESSION_COOKIE } from '../auth/middleware.js';

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

/** `Idempotency-Replayed` on the success response of a write that honours `Idempotency-Key`. */
export const replayedHeader = {
  'Idempotency-Replayed': {
    description:
      '`true` when this is the stored response of an earlier request with the same `Idempotency-Key` and body.',
    schema: { type: 'string' as const, enum: ['true'] },
  },
};

/** The security of routes that also take the `/login` cookie (safe methods only). */
export const bearerOrBrowserSession: Record<string, string[]>[] = [
  { bearer: [] },
  { browserSession: [] },
];

const INFO = {
  title: 'Homeroom API',
  version: '1',
  description:
    'Multi-tenant school operations: public school-site endpoints, staff and family APIs, leadership dashboards and the platform API. The tenant (and, on a school site, the school) comes from the Host header.',
};

type Json = Record<string, unknown>;
interface DocOperation {
  security?: Record<string, string[]>[];
  requestBody?: { content?: Record<string, { schema?: Json; example?: unknown }> };
  responses?: Record<string, { headers?: Json; content?: Json; description?: string }>;
}

/**
 * The OpenAPI 3.1 document of the app, as `/openapi.json` serves it and `/docs` renders it.
 * Route definitions carry what belongs to one operation (its `operationId`, its examples,
 * its own headers); this one place adds what holds for every operation because one
 * middleware does it for every request — `x-request-id` on every response, 503 with
 * `Retry-After` when the database is out of reach, `Retry-After` on 429 — plus the servers,
 * the security schemes, and an example (built from the schema) for a body whose route
 * gives none. Doing these here rather than in 127 route definitions keeps them true for
 * routes added later.
 */
export function openApiDocument(
  app: Pick<OpenAPIHono, 'getOpenAPI31Document'>,
): Json & { paths: Record<string, Record<string, DocOperation>> } {
  const generated = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info: INFO,
    servers: [
      {
        url: 'https://{tenantHost}',
        description:
          'A tenant: `<slug>.<PLATFORM_DOMAIN>` or one of its own domains (a school’s site domain also selects the school).',
        variables: { tenantHost: { default: 'sunrise.example.org' } },
      },
      {
        url: 'http://{slug}.localhost:8787',
        description: 'A tenant of `npm run api` or `npm run demo` on this machine.',
        variables: { slug: { default: 'demo-network' } },
      },
    ],
    security: [{ bearer: [] }],
  });
  // Walked below as plain JSON: only the parts this function adds to are spelled out.
  const doc = generated as unknown as Json & {
    paths: Record<string, Record<string, DocOperation>>;
  };

  const components = (doc.components ??= {}) as Json;
  components.securitySchemes = {
    ...(components.securitySchemes as Json | undefined),
    bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    browserSession: {
      type: 'apiKey',
      in: 'cookie',
      name: SESSION_COOKIE,
      description:
        'The browser session set by `POST /login` (HttpOnly, Secure, SameSite=Lax); accepted on GET only, by the routes that list it.',
    },
  };
  components.headers = {
    ...(components.headers as Json | undefined),
    RequestId: {
      description:
        'The request’s id (the caller’s own `x-request-id` when well-formed); quote it to support.',
      schema: { type: 'string' },
    },
    RetryAfter: {
      description: 'Seconds to wait before retrying.',
      schema: { type: 'integer', minimum: 0 },
    },
  };
  const schemas = (components.schemas ?? {}) as Record<string, Json>;

  for (const item of Object.values(doc.paths)) {
    for (const op of Object.values(item)) {
      const responses = (op.responses ??= {});
      // Any route that opens the tenant's transaction can meet a lost database connection.
      responses['503'] ??= {
        description: 'The database is out of reach for a moment; see Retry-After',
        content: {
          'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
        },
      };
      for (const [status, response] of Object.entries(responses)) {
        const headers = (response.headers ??= {});
        headers['x-request-id'] = { $ref: '#/components/headers/RequestId' };
        if (status === '429' || status === '503')
          headers['Retry-After'] = { $ref: '#/components/headers/RetryAfter' };
      }
      for (const media of Object.values(op.requestBody?.content ?? {})) {
        if (media.example === undefined && media.schema)
          media.example = exampleOf(media.schema, schemas);
      }
    }
  }
  return doc;
}

const SAMPLE_ID = '4b3c2f8e-6a1d-4c9e-9f3a-2d7e5b8c1a60';
const SAMPLE_STRINGS: [RegExp, string][] = [
  [/email/, 'jordan.rivera@example.org'],
  [/host|domain/, 'www.sunrise.example.org'],
  [/slug/, 'sunrise'],
  [/token/, 'rt_6q2Jx0bNw3YH8kVf1sZpLr'],
  [/^role$|^key$/, 'teacher'],
  [/permission/, 'attendance.write'],
  [/title/, 'Fractions quiz'],
  [/subject/, 'math'],
  [/section/, '01'],
  [/phone/, '+1 602 555 0142'],
  [/first_name/, 'Jordan'],
  [/last_name/, 'Rivera'],
  [/password/, 'Correct-Horse-42!'],
  [/name/, 'Lakeside Elementary'],
  [/code|number/, 'LS-0042'],
  [/grade/, '5'],
  [/reason|note|message|description/, 'Requested by the family.'],
];

/**
 * A value that fits a JSON schema: its own `example`/`default`, the first enum value, a
 * sample by format or by property name; objects with their required properties (or, when
 * none is required, their first one, as a PATCH that changes one field).
 */
function exampleOf(schema: Json, schemas: Record<string, Json>, name = '', depth = 0): unknown {
  if (depth > 8) return null;
  const ref = schema.$ref as string | undefined;
  if (ref) return exampleOf(schemas[ref.split('/').pop()!] ?? {}, schemas, name, depth + 1);
  if (schema.example !== undefined) return schema.example;
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  if (schema.default !== undefined) return schema.default;
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum.find((v) => v !== null) ?? null;
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = schema[key] as Json[] | undefined;
    if (options) {
      const first = options.find((o) => o.type !== 'null') ?? options[0]!;
      return exampleOf(first, schemas, name, depth + 1);
    }
  }
  if (Array.isArray(schema.allOf))
    return Object.assign(
      {},
      ...schema.allOf.map((s: Json) => exampleOf(s, schemas, name, depth + 1)),
    );
  const type = Array.isArray(schema.type)
    ? (schema.type as string[]).find((t) => t !== 'null')
    : (schema.type as string | undefined);
  switch (type) {
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Json>;
      const required =
        (schema.required as string[] | undefined) ?? Object.keys(properties).slice(0, 1);
      return Object.fromEntries(
        required
          .filter((k) => properties[k])
          .map((k) => [k, exampleOf(properties[k]!, schemas, k, depth + 1)]),
      );
    }
    case 'array': {
      const items = (schema.items ?? {}) as Json;
      const count = Math.max(1, Number(schema.minItems ?? 1));
      return Array.from({ length: count }, () => exampleOf(items, schemas, name, depth + 1));
    }
    case 'integer':
    case 'number': {
      const min = schema.minimum ?? schema.exclusiveMinimum;
      const sample = /cents/.test(name) ? 12500 : /points/.test(name) ? 10 : 1;
      const max = typeof schema.maximum === 'number' ? schema.maximum : Infinity;
      return Math.min(typeof min === 'number' ? Math.max(min, sample) : sample, max);
    }
    case 'boolean':
      return true;
    case 'string':
      return sampleString(schema, name);
    default:
      return null;
  }
}

function sampleString(schema: Json, name: string): string {
  switch (schema.format) {
    case 'uuid':
      return SAMPLE_ID;
    case 'date':
      return '2026-09-08';
    case 'date-time':
      return '2026-09-08T15:30:00Z';
    case 'email':
      return 'jordan.rivera@example.org';
    case 'uri':
    case 'url':
      return 'https://www.example.org/admissions';
  }
  const sample = SAMPLE_STRINGS.find(([re]) => re.test(name))?.[1] ?? 'text';
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : Infinity;
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  return sample.padEnd(min, 'x').slice(0, max);
}
