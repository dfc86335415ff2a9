import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { every, except } from 'hono/combine';
import { HTTPException } from 'hono/http-exception';
import { isConnectionLoss } from '../db/connection.js';
import type { AppEnv } from './app-env.js';
import { rateLimits } from './middleware/rate-limit.js';
import { countUsage } from './middleware/usage.js';
import { accessLog, metricsScrape } from './observability.js';
import { ApiError, invalidParamsOf, problem, statusOf, type ErrorCode } from './problems.js';
import { registerRoutes } from './routes/index.js';
import { openApiDocument } from './routes/openapi.js';
import type { Services } from './services.js';
import { resolveTenant, tenantTransaction } from './tenancy/middleware.js';

export interface AppOptions {
  /** The services of this request: shared on Node, per request on workerd. */
  services: (c: Context<AppEnv>) => Services;
  /** Runs after the response is ready (workerd: `executionCtx.waitUntil`). */
  afterResponse?: (c: Context<AppEnv>, work: Promise<unknown>) => void;
}

/** Paths that answer without a tenant: the API description, liveness and the metrics scrape. */
const TENANTLESS = new Set(['/health', '/metrics', '/openapi.json', '/docs']);

/** Retry-After of a request whose database connection was lost (restarts take seconds). */
const DB_RETRY_AFTER_SECONDS = 2;

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

/** Builds the one Hono app both runtimes serve. */
export function newApp(options: AppOptions) {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        throw new ApiError('validation_failed', 'See invalid_params for what to fix.', {
          invalidParams: invalidParamsOf(result.error.issues, result.target),
        });
      }
    },
  });

  app.use('*', async (c, next) => {
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    c.set('requestId', requestId);
    const services = options.services(c);
    c.set('services', services);
    c.set('commitRefusal', false);
    try {
      await next();
    } finally {
      c.header('x-request-id', requestId);
      c.header('x-content-type-options', 'nosniff');
      if (services.runtime === 'workerd') {
        const done = services.dispose();
        if (options.afterResponse) options.afterResponse(c, done);
        else await done;
      }
    }
  });
  app.use('*', accessLog());

  const limit: MiddlewareHandler<AppEnv> = (c, next) => {
    const { config } = c.get('services');
    // An uploaded bundle is the one body allowed to be large.
    const maxSize =
      c.req.method === 'POST' && c.req.path === '/v1/imports'
        ? config.IMPORT_LIMIT_BYTES
        : config.BODY_LIMIT_BYTES;
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new ApiError('payload_too_large', `Bodies are limited to ${maxSize} bytes.`);
      },
    })(c, next);
  };
  app.use(
    '*',
    except(
      (c) => TENANTLESS.has(c.req.path),
      every(limit, resolveTenant(), countUsage(), rateLimits(), tenantTransaction()),
    ),
  );

  app.get('/health', (c) => c.json({ status: 'ok', runtime: c.get('services').runtime }));
  app.get('/metrics', metricsScrape);

  registerRoutes(app);

  // Fixed once every route is registered: built on the first request, then reused.
  let document: ReturnType<typeof openApiDocument> | undefined;
  app.get('/openapi.json', (c) => c.json((document ??= openApiDocument(app))));

  app.notFound((c) =>
    problemResponse(c, 'not_found', `No route for ${c.req.method} ${c.req.path}.`),
  );

  app.onError((err, c) => {
    if (err instanceof ApiError) {
      if (err.headers) for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
      return problemResponse(c, err.code, err.message, err.invalidParams);
    }
    if (err instanceof HTTPException && err.status === 400 && /malformed json/i.test(err.message)) {
      // The validator's parse failure: a field error like any other invalid body.
      return problemResponse(c, 'validation_failed', 'The request body is not valid JSON.', [
        { name: 'body', reason: 'is not valid JSON' },
      ]);
    }
    if (err instanceof HTTPException && err.status < 500) {
      // Hono's own refusals, e.g. malformed JSON from the validator.
      const code: ErrorCode =
        err.status === 413
          ? 'payload_too_large'
          : err.status === 415
            ? 'unsupported_media_type'
            : 'bad_request';
      return problemResponse(c, code, err.message || undefined);
    }
    if (isConnectionLoss(err)) {
      // The database went away (restart, failover, terminated backend): the client may
      // retry. A commit whose acknowledgement was lost lands here too and is ambiguous;
      // public writes with an Idempotency-Key replay their first answer on retry.
      c.get('services')?.log.count('db_connection_lost');
      c.get('services')?.log.warn('database connection lost', {
        request_id: c.get('requestId'),
        path: c.req.path,
        error: err.message,
      });
      c.header('Retry-After', String(DB_RETRY_AFTER_SECONDS));
      return problemResponse(
        c,
        'unavailable',
        'The database is briefly unavailable. Retry the request shortly.',
      );
    }
    c.get('services')?.log.error('unhandled error', {
      request_id: c.get('requestId'),
      path: c.req.path,
      error: err instanceof Error ? err.message : String(err),
      stack: err instanceof Error ? err.stack : undefined,
    });
    return problemResponse(
      c,
      'internal',
      'Something went wrong on our side. Quote the request id if you contact support.',
    );
  });

  return app;
}

function problemResponse(
  c: Context<AppEnv>,
  code: ErrorCode,
  detail?: string,
  invalidParams?: ReturnType<typeof invalidParamsOf>,
) {
  const body = problem(code, {
    ...(detail ? { detail } : {}),
    instance: c.req.path,
    requestId: c.get('requestId'),
    ...(invalidParams ? { invalidParams } : {}),
  });
  return c.body(JSON.stringify(body), statusOf(code), {
    'content-type': 'application/problem+json',
  });
}

export type App = ReturnType<typeof newApp>;
