import { ApiError } from '../problems.js';

interface PgErrorLike {
  code?: string;
  constraint?: string;
  detail?: string;
  cause?: unknown;
}

/** The driver error behind drizzle's wrapper (the SQLSTATE is on the cause). */
function pgError(err: unknown): PgErrorLike | null {
  let e = err as PgErrorLike | undefined;
  for (let i = 0; e && i < 5; i++) {
    if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code)) return e;
    e = e.cause as PgErrorLike | undefined;
  }
  return null;
}

/**
 * Maps constraint failures to client problems, never a 5xx: unique → 409, foreign key →
 * 422, check / bad value → 422. The constraint name is the only detail passed on (no
 * values: they may be personal data). The request's transaction is aborted either way;
 * the thrown problem rolls it back.
 */
export function problemFromDb(err: unknown): ApiError | null {
  const e = pgError(err);
  if (!e?.code) return null;
  const which = e.constraint ? ` (${e.constraint})` : '';
  switch (e.code) {
    case '23505':
      return new ApiError('conflict', `A record with the same unique value exists${which}.`);
    case '23503':
      return new ApiError('unprocessable', `A referenced record does not exist${which}.`);
    case '23514':
    case '23502':
      return new ApiError('unprocessable', `The change breaks a rule of the record${which}.`);
    case '22P02':
    case '22007':
    case '22008':
    case '22003':
      return new ApiError('validation_failed', 'A value is out of range or malformed.');
    default:
      return null;
  }
}

/** Runs `fn`, turning constraint failures into problems. */
export async function mapDbErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw problemFromDb(err) ?? err;
  }
}
