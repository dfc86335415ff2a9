import type { Context, MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { and, eq, sql } from 'drizzle-orm';
import * as t from '../../db/schema/tenant.js';
import type { AppEnv } from '../app-env.js';
import { ApiError } from '../problems.js';
import { formFields, IDEMPOTENCY_FIELD, isFormPost } from './forms.js';

export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
export const REPLAYED_HEADER = 'Idempotency-Replayed';

/** 1–255 visible ASCII characters (no spaces), as the stored column allows. */
export const IDEMPOTENCY_KEY = /^[\x21-\x7E]{1,255}$/;

const DAY_MS = 24 * 3600 * 1000;

export interface IdempotencyOptions {
  /** Namespace of the keys, one per operation (`public:inquiries`, `payments:record`, …). */
  scope: string | ((c: Context<AppEnv>) => string);
  /** Refuse requests without a key (money moves); by default the key is optional. */
  required?: boolean;
  /** How long a stored response answers its key; after that the key may be reused. */
  ttlMs?: number;
}

const unstored = new WeakSet<Context>();

/**
 * Keeps this request's response out of the idempotency store although it succeeded: a
 * decoy answer (the honeypot) must leave no trace.
 */
export function skipIdempotencyStore(c: Context): void {
  unstored.add(c);
}

/**
 * `Idempotency-Key` for a route that runs inside the request transaction (after
 * `tenantTransaction()`). The first request with a key does the work and its 2xx response
 * (status and JSON body) is stored in the same transaction as its effects, so a key never
 * exists without them; a repeat with the same request (method, path, canonical JSON body)
 * gets the stored response with `Idempotency-Replayed: true`; the same key with another
 * request is refused with 422 `idempotency_key_reused`. Error responses are not stored:
 * the client may retry them with the same key.
 *
 * Concurrent duplicates serialize on a transaction-scoped advisory lock on (tenant, scope,
 * key): the second waits until the first commits or rolls back, then replays or does the
 * work itself. Nothing is held after the transaction ends.
 */
export function idempotency(options: IdempotencyOptions): MiddlewareHandler<AppEnv> {
  if (!options.scope) throw new Error('idempotency(): scope is required');
  const ttlMs = options.ttlMs ?? DAY_MS;
  if (!(ttlMs > 0)) throw new Error('idempotency(): ttlMs must be positive');
  const { scope: given } = options;
  const scopeOf: (c: Context<AppEnv>) => string = typeof given === 'function' ? given : () => given;

  return async (c, next) => {
    const key = c.req.header(IDEMPOTENCY_HEADER) ?? (await formKey(c));
    if (key === undefined) {
      if (options.required) {
        throw new ApiError('bad_request', `This operation requires an ${IDEMPOTENCY_HEADER}.`, {
          invalidParams: [{ name: 'header.idempotency-key', reason: 'required' }],
        });
      }
      return next();
    }
    if (!IDEMPOTENCY_KEY.test(key)) {
      throw new ApiError('bad_request', `${IDEMPOTENCY_HEADER} is malformed.`, {
        invalidParams: [
          {
            name: 'header.idempotency-key',
            reason: 'must be 1–255 visible ASCII characters (no spaces), e.g. a UUID',
          },
        ],
      });
    }
    const scope = scopeOf(c);
    const tenantId = c.get('tenant').id;
    const tx = c.get('tx');
    const hash = await requestHash(c);

    // A 64-bit hash of the key: a collision only serializes two unrelated requests.
    await tx.execute(
      sql`select pg_advisory_xact_lock(hashtextextended(${`idem\n${tenantId}\n${scope}\n${key}`}, 0))`,
    );
    const where = and(eq(t.idempotencyKeys.scope, scope), eq(t.idempotencyKeys.key, key));
    const [stored] = await tx
      .select({
        requestHash: t.idempotencyKeys.requestHash,
        status: t.idempotencyKeys.responseStatus,
        body: t.idempotencyKeys.responseBody,
        live: sql<boolean>`${t.idempotencyKeys.expiresAt} > now()`,
      })
      .from(t.idempotencyKeys)
      .where(where);
    if (stored?.live) {
      if (stored.requestHash !== hash) {
        throw new ApiError(
          'idempotency_key_reused',
          `This ${IDEMPOTENCY_HEADER} was used with a different request; use a new key for a new request.`,
        );
      }
      return c.json(stored.body, stored.status as ContentfulStatusCode, {
        [REPLAYED_HEADER]: 'true',
      });
    }
    if (stored) await tx.delete(t.idempotencyKeys).where(where);

    await next();

    if (c.error || c.res.status < 200 || c.res.status >= 300 || unstored.has(c)) return;
    const body = await jsonBodyOf(c.res);
    if (body === undefined) {
      // A non-JSON success cannot be replayed faithfully; better no key than a wrong replay.
      c.get('services').log.warn('idempotent response not stored: not JSON', {
        request_id: c.get('requestId'),
        scope,
      });
      return;
    }
    await tx.insert(t.idempotencyKeys).values({
      tenantId,
      scope,
      key,
      requestHash: hash,
      responseStatus: c.res.status,
      responseBody: body,
      expiresAt: sql`now() + make_interval(secs => ${ttlMs / 1000})`,
    });
  };
}

/** A plain form's key: its `idempotency_key` field (one value; empty means none). */
async function formKey(c: Context): Promise<string | undefined> {
  if (!isFormPost(c)) return undefined;
  const value = (await formFields(c))[IDEMPOTENCY_FIELD];
  if (value === '' || value === undefined) return undefined;
  return typeof value === 'string' ? value : value.join(',');
}

async function jsonBodyOf(res: Response): Promise<unknown> {
  if (!/^application\/([\w.-]+\+)?json\b/i.test(res.headers.get('content-type') ?? '')) {
    return undefined;
  }
  try {
    const body: unknown = await res.clone().json();
    return body === null ? undefined : body;
  } catch {
    return undefined;
  }
}

/**
 * SHA-256 of method, path and the canonical body: JSON with sorted keys; a form's fields
 * (but its key) with sorted names, as multipart boundaries change on every post; else the
 * raw text.
 */
export async function requestHash(c: Context): Promise<string> {
  let body: string;
  if (isFormPost(c)) {
    const { [IDEMPOTENCY_FIELD]: _key, ...fields } = await formFields(c);
    body = `form:${canonicalJson(fields)}`;
  } else {
    const text = await c.req.text();
    body = text;
    try {
      body = canonicalJson(JSON.parse(text));
    } catch {
      // Not JSON (or absurdly deep): the raw text is the request.
    }
  }
  const bytes = new TextEncoder().encode(`${c.req.method}\n${c.req.path}\n${body}`);
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

const MAX_DEPTH = 64;

/** JSON with object keys sorted, so key order and whitespace do not change the hash. */
export function canonicalJson(value: unknown, depth = 0): string {
  if (depth > MAX_DEPTH) throw new RangeError('JSON nested too deeply');
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v, depth + 1)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v, depth + 1)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
