export type PlatformErrorCode =
  | 'invalid_slug'
  | 'duplicate_slug'
  | 'invalid_domain'
  | 'duplicate_domain'
  | 'invalid_email'
  | 'weak_password'
  | 'unknown_plan'
  | 'tenant_not_found'
  | 'invalid_input'
  | 'schema_mismatch'
  | 'domain_not_found'
  | 'domain_unverified';

/** A request the platform refuses; its message is safe to show to the caller. */
export class PlatformError extends Error {
  constructor(
    readonly code: PlatformErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PlatformError';
  }
}

/** A unique violation that raced past the up-front checks, as the same clear error. */
export function translateUnique(err: unknown): unknown {
  // Drizzle wraps the driver's error; the SQLSTATE is on the cause.
  let e = err as { code?: string; constraint?: string; cause?: unknown };
  while (!e.code && e.cause) e = e.cause as typeof e;
  if (e.code === '23505' && e.constraint === 'tenants_slug_key') {
    return new PlatformError('duplicate_slug', 'slug is already taken');
  }
  if (e.code === '23505' && e.constraint === 'tenant_domains_hostname_key') {
    return new PlatformError('duplicate_domain', 'domain is already in use');
  }
  return err;
}
