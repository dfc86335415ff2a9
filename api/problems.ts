import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/**
 * Every error a client can see, as RFC 9457 problem details with a stable `type`. The
 * set is closed: a new failure mode gets a code here, and the switch below makes the
 * compiler insist on its status.
 */
export type ErrorCode =
  | 'bad_request'
  | 'validation_failed'
  | 'unauthenticated'
  | 'invalid_credentials'
  | 'forbidden'
  | 'tenant_suspended'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'precondition_failed'
  | 'idempotency_key_reused'
  | 'unprocessable'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'internal'
  | 'unavailable';

export function statusOf(code: ErrorCode): ContentfulStatusCode {
  switch (code) {
    case 'bad_request':
      return 400;
    case 'validation_failed':
      return 400;
    case 'unauthenticated':
    case 'invalid_credentials':
      return 401;
    case 'forbidden':
    case 'tenant_suspended':
      return 403;
    case 'not_found':
      return 404;
    case 'method_not_allowed':
      return 405;
    case 'conflict':
      return 409;
    case 'precondition_failed':
      return 412;
    case 'idempotency_key_reused':
    case 'unprocessable':
      return 422;
    case 'payload_too_large':
      return 413;
    case 'unsupported_media_type':
      return 415;
    case 'rate_limited':
      return 429;
    case 'internal':
      return 500;
    case 'unavailable':
      return 503;
  }
}

const TITLES: Record<ErrorCode, string> = {
  bad_request: 'Bad request',
  validation_failed: 'Your request parameters did not validate',
  unauthenticated: 'Authentication required',
  invalid_credentials: 'Invalid credentials',
  forbidden: 'Forbidden',
  tenant_suspended: 'This organisation is suspended',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  conflict: 'Conflict',
  precondition_failed: 'The resource changed since you read it',
  idempotency_key_reused: 'Idempotency key reused with a different request',
  unprocessable: 'Unprocessable request',
  payload_too_large: 'Request body too large',
  unsupported_media_type: 'Unsupported media type',
  rate_limited: 'Too many requests',
  internal: 'Internal error',
  unavailable: 'Service unavailable',
};

/** One field error, as in RFC 9457's `invalid_params` extension. */
export interface InvalidParam {
  name: string;
  reason: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  request_id?: string;
  invalid_params?: InvalidParam[];
}

export const PROBLEM_BASE = 'https://docs.homeroom.app/problems/';

/** A failing request: thrown anywhere, rendered by the app's error handler. */
export class ApiError extends HTTPException {
  readonly code: ErrorCode;
  readonly invalidParams: InvalidParam[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    code: ErrorCode,
    detail?: string,
    extra: { invalidParams?: InvalidParam[]; headers?: Record<string, string> } = {},
  ) {
    super(statusOf(code), { message: detail ?? TITLES[code] });
    this.code = code;
    this.invalidParams = extra.invalidParams;
    this.headers = extra.headers;
  }
}

/** The problem document for an error code. */
export function problem(
  code: ErrorCode,
  options: {
    detail?: string;
    instance?: string;
    requestId?: string;
    invalidParams?: InvalidParam[];
  } = {},
): Problem {
  return {
    type: `${PROBLEM_BASE}${code}`,
    title: TITLES[code],
    status: statusOf(code),
    ...(options.detail ? { detail: options.detail } : {}),
    ...(options.instance ? { instance: options.instance } : {}),
    ...(options.requestId ? { request_id: options.requestId } : {}),
    ...(options.invalidParams ? { invalid_params: options.invalidParams } : {}),
  };
}

/** Turns zod issues into `invalid_params` entries. */
export function invalidParamsOf(
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
  location?: string,
): InvalidParam[] {
  return issues.map((i) => ({
    name: [location, ...i.path.map(String)].filter(Boolean).join('.') || '(body)',
    reason: i.message,
  }));
}
