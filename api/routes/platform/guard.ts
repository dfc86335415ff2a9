import { z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { PlatformError, type PlatformErrorCode } from '../../../db/tenants/errors.js';
import type { AppEnv } from '../../app-env.js';
import { authenticate } from '../../auth/middleware.js';
import { ApiError, type ErrorCode } from '../../problems.js';

/**
 * The platform surface exists only on the operator tenant's hosts (config.PLATFORM_TENANT):
 * anywhere else it answers exactly like a path with no route, so a school's domain does not
 * reveal that it exists. Runs before authentication for the same reason.
 */
export function operatorHostOnly(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.get('tenant').slug !== c.get('services').config.PLATFORM_TENANT) {
      throw new ApiError('not_found', `No route for ${c.req.method} ${c.req.path}.`);
    }
    await next();
  };
}

/** 403 unless the caller holds `platform_admin` in the operator tenant. */
export function requirePlatformAdmin(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!c.get('principal').roles.has('platform_admin')) {
      throw new ApiError('forbidden', 'Only platform administrators may use the platform API.');
    }
    await next();
  };
}

/** Every middleware of `/v1/platform/*`, in order. */
export const platformGuards = (): MiddlewareHandler<AppEnv>[] => [
  operatorHostOnly(),
  authenticate(),
  requirePlatformAdmin(),
];

const STATUS: Record<PlatformErrorCode, ErrorCode> = {
  invalid_slug: 'unprocessable',
  duplicate_slug: 'conflict',
  invalid_domain: 'unprocessable',
  duplicate_domain: 'conflict',
  invalid_email: 'unprocessable',
  weak_password: 'unprocessable',
  unknown_plan: 'unprocessable',
  tenant_not_found: 'not_found',
  invalid_input: 'unprocessable',
  // The template is behind (or ahead of) the code: an operator must migrate or deploy.
  schema_mismatch: 'unavailable',
  domain_not_found: 'not_found',
  domain_unverified: 'unprocessable',
};

/**
 * Runs a platform operation, turning its refusals into problems: duplicates 409, invalid
 * input 422 (naming the field in `invalid_params`), an unknown tenant 404.
 */
export async function platformCall<T>(
  work: () => Promise<T>,
  fields: Partial<Record<PlatformErrorCode, string>> = {},
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof PlatformError)) throw err;
    const field = fields[err.code];
    throw new ApiError(
      STATUS[err.code],
      err.message,
      field ? { invalidParams: [{ name: field, reason: err.message }] } : {},
    );
  }
}

export const SlugParam = z.object({
  slug: z
    .string()
    .regex(/^[a-z][a-z0-9-]{1,38}[a-z0-9]$/)
    .openapi({ param: { name: 'slug', in: 'path' }, example: 'maple' }),
});

/** Who the platform audit log records for this request. */
export const actorOf = (c: Context<AppEnv>) => c.get('principal').userId;
