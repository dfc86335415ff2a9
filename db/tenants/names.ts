import { PlatformError } from './errors.js';

/** Which slugs and hostnames a tenant may have. */

/** Slug of the default operator tenant: reserved for `--platform-admin` creation. */
export const OPERATOR_SLUG = 'homeroom';

const RESERVED_SLUGS = new Set([
  'www',
  'api',
  'app',
  'admin',
  'platform',
  'login',
  'auth',
  'static',
  'assets',
  'docs',
  'status',
  'mail',
  'support',
  'help',
  'billing',
  'dashboards',
  'pool',
  'template',
  OPERATOR_SLUG,
]);
const SLUG = /^[a-z][a-z0-9-]{1,38}[a-z0-9]$/;
const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Normalises a hostname the way tenant resolution will: lower case, no port, no trailing dot. */
export function normaliseHostname(input: string): string {
  const host = input.trim().toLowerCase().replace(/\.$/, '');
  if (!HOSTNAME.test(host)) {
    throw new PlatformError(
      'invalid_domain',
      `invalid domain "${input}": use a bare hostname such as school.example.org`,
    );
  }
  return host;
}

/**
 * Refuses malformed and reserved slugs. The operator slug is reserved so that no school
 * can take the name the platform surface answers on; only operator creation may use it.
 */
export function validateSlug(slug: string, options: { operator?: boolean } = {}): void {
  if (!SLUG.test(slug)) {
    throw new PlatformError(
      'invalid_slug',
      `invalid slug "${slug}": 3–40 characters, lower-case letters, digits and hyphens, starting with a letter`,
    );
  }
  if (RESERVED_SLUGS.has(slug) && !(options.operator && slug === OPERATOR_SLUG))
    throw new PlatformError('invalid_slug', `slug "${slug}" is reserved`);
}
