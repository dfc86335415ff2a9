import type { Context } from 'hono';
import { ApiError } from '../problems.js';

/** Reading HTML form posts (urlencoded and multipart) the same way everywhere. */

const FORM_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data'];

/** The form field that stands in for the `Idempotency-Key` header a plain form cannot send. */
export const IDEMPOTENCY_FIELD = 'idempotency_key';

export function isFormPost(c: Context): boolean {
  const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase() ?? '';
  return FORM_TYPES.includes(type);
}

export type FormFields = Record<string, string | string[]>;

/**
 * The posted form as name → value (a repeated name → all its values; a file → a marker
 * no field accepts). Parsed once: the body validator reads the same cached FormData.
 */
export async function formFields(c: Context): Promise<FormFields> {
  let data: FormData;
  try {
    data = await c.req.formData();
  } catch {
    throw new ApiError('bad_request', 'The form body is malformed.', {
      invalidParams: [{ name: 'body', reason: 'is not a well-formed form' }],
    });
  }
  const out: FormFields = Object.create(null);
  data.forEach((v, k) => {
    const value = typeof v === 'string' ? v : `[file ${v.name} ${v.size}]`;
    const had = out[k];
    out[k] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value];
  });
  return out;
}
