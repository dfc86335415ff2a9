import { rateLimit } from '../middleware/rate-limit.js';

/**
 * Limits sign-in attempts per tenant and client IP, across accounts: lockout protects one
 * account, this slows spraying one password over many. Shared by the API and the form.
 */
export const loginRateLimit = () =>
  rateLimit({ name: 'login', limit: (c) => c.get('services').config.LOGIN_RATE_LIMIT });
