import { expect } from 'vitest';

/** The PostgreSQL error under a rejection (drizzle wraps driver errors in `cause`). */
export async function pgErrorOf(
  work: Promise<unknown>,
): Promise<{ code?: string; message: string }> {
  try {
    await work;
  } catch (err) {
    let e = err as { code?: string; message: string; cause?: unknown };
    while (!e.code && e.cause) e = e.cause as typeof e;
    return e;
  }
  throw new Error('expected the database to refuse, but it accepted');
}

/** Asserts the work fails with the given SQLSTATE (and, optionally, message). */
export async function expectPgError(work: Promise<unknown>, code: string, message?: RegExp) {
  const e = await pgErrorOf(work);
  expect(e.code, e.message).toBe(code);
  if (message) expect(e.message).toMatch(message);
}
