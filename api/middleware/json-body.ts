import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.js';
import { ApiError } from '../problems.js';

/**
 * Answers a JSON body that does not parse with the same 400 `validation_failed` problem and
 * `invalid_params` as a body that parses but does not validate (SPEC §5: field errors in
 * `invalid_params`). Without it, Hono's validator throws a bare 400 with no field errors.
 * Registered for every route in api/app.ts, before the route's validators; the parsed body is
 * cached for them.
 */
export function jsonBody(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const type = c.req.header('content-type') ?? '';
    if (/^application\/([a-z.-]+\+)?json/i.test(type)) {
      try {
        await c.req.json();
      } catch {
        throw new ApiError('validation_failed', 'The request body is not valid JSON.', {
          invalidParams: [{ name: 'body', reason: 'is not valid JSON' }],
        });
      }
    }
    await next();
  };
}
