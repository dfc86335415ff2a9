import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.js';
import type { ApiConfig } from '../env.js';
import { ApiError } from '../problems.js';
import type { RedisProvider } from '../redis.js';
import type { Redis } from 'ioredis';
import type { Logger } from '../../db/log.js';

export interface RateDecision {
  allowed: boolean;
  remaining: number;
  /** Seconds until the window resets. */
  resetSeconds: number;
}

/** Fixed-window counters: `limit` hits per `windowMs` per key. */
export interface RateLimiter {
  hit(key: string, limit: number, windowMs: number): Promise<RateDecision>;
}

const SCRIPT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}`;

type ScriptedRedis = Redis & {
  homeroomRateHit?(key: string, windowMs: string): Promise<[number, number]>;
};

/** The script as a client command: EVALSHA, loading it on the first NOSCRIPT. */
function rateHit(client: Redis, key: string, windowMs: number): Promise<[number, number]> {
  const c = client as ScriptedRedis;
  if (!c.homeroomRateHit) c.defineCommand('homeroomRateHit', { numberOfKeys: 1, lua: SCRIPT });
  return c.homeroomRateHit!(key, String(windowMs));
}

/** In-memory windows: the fallback while Redis is unreachable (per process or isolate). */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  async hit(key: string, limit: number, windowMs: number): Promise<RateDecision> {
    const now = Date.now();
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      if (this.windows.size > 50_000) this.windows.clear();
      w = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, w);
    }
    w.count++;
    return {
      allowed: w.count <= limit,
      remaining: Math.max(0, limit - w.count),
      resetSeconds: Math.max(1, Math.ceil((w.resetAt - now) / 1000)),
    };
  }
}

/**
 * Redis-backed windows shared by every API instance; falls back to the in-memory limiter
 * (and counts it) when Redis cannot answer, so a Redis outage neither blocks nor opens
 * the public endpoints wide.
 */
export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: RedisProvider,
    private readonly fallback: MemoryRateLimiter,
    private readonly log: Logger,
  ) {}

  async hit(key: string, limit: number, windowMs: number): Promise<RateDecision> {
    const client = await this.redis.get();
    if (client) {
      try {
        const [count, ttl] = await rateHit(client, `rl:${key}`, windowMs);
        return {
          allowed: count <= limit,
          remaining: Math.max(0, limit - count),
          resetSeconds: Math.max(1, Math.ceil(ttl / 1000)),
        };
      } catch (err) {
        this.log.warn('rate limiter fell back to memory', { error: (err as Error).message });
      }
    }
    this.log.count('rate_limit_fallback');
    return this.fallback.hit(key, limit, windowMs);
  }
}

interface Policy {
  method: string;
  path: string;
  name: string;
  limit: (config: ApiConfig) => number;
}

/**
 * Every rate limit, by route. They apply before the request's transaction opens (see
 * api/app.ts), so a request that will be refused never takes a database connection and
 * an accepted one does not hold its connection while Redis answers.
 */
const POLICIES: readonly Policy[] = [
  {
    method: 'POST',
    path: '/v1/public/inquiries',
    name: 'public:inquiries',
    limit: (c) => c.PUBLIC_RATE_LIMIT,
  },
  {
    method: 'POST',
    path: '/v1/public/tours',
    name: 'public:tours',
    limit: (c) => c.PUBLIC_RATE_LIMIT,
  },
  // Reads are cheap and pages load them often: a higher allowance.
  {
    method: 'GET',
    path: '/v1/public/profile',
    name: 'public:profile',
    limit: (c) => c.PUBLIC_RATE_LIMIT * 10,
  },
  {
    method: 'GET',
    path: '/v1/public/tours/slots',
    name: 'public:tour-slots',
    limit: (c) => c.PUBLIC_RATE_LIMIT * 10,
  },
  {
    method: 'GET',
    path: '/v1/public/forms/inquiry',
    name: 'public:forms',
    limit: (c) => c.PUBLIC_RATE_LIMIT * 10,
  },
  // Sign-in, across accounts (password spraying); lockout protects each account.
  { method: 'POST', path: '/v1/auth/login', name: 'login', limit: (c) => c.LOGIN_RATE_LIMIT },
  { method: 'POST', path: '/login', name: 'login', limit: (c) => c.LOGIN_RATE_LIMIT },
  // The second factor and single sign-on share the sign-in budget (code guessing, callbacks
  // that each cost the provider round trips).
  { method: 'POST', path: '/v1/auth/mfa/verify', name: 'login', limit: (c) => c.LOGIN_RATE_LIMIT },
  {
    method: 'POST',
    path: '/v1/auth/mfa/enrolment/confirm',
    name: 'login',
    limit: (c) => c.LOGIN_RATE_LIMIT,
  },
  { method: 'POST', path: '/login/mfa', name: 'login', limit: (c) => c.LOGIN_RATE_LIMIT },
  { method: 'POST', path: '/login/mfa/enrol', name: 'login', limit: (c) => c.LOGIN_RATE_LIMIT },
  { method: 'GET', path: '/login/sso/callback', name: 'login', limit: (c) => c.LOGIN_RATE_LIMIT },
  // Reset requests mail people: per IP here, per address in the handler (both 429).
  {
    method: 'POST',
    path: '/v1/auth/password/forgot',
    name: 'password-forgot',
    limit: (c) => c.PASSWORD_RESET_RATE_LIMIT,
  },
  {
    method: 'POST',
    path: '/forgot-password',
    name: 'password-forgot',
    limit: (c) => c.PASSWORD_RESET_RATE_LIMIT,
  },
  // Token and password guessing, like sign-in.
  ...['/v1/auth/password/reset', '/reset-password', '/v1/auth/password/change'].map((path) => ({
    method: 'POST',
    path,
    name: 'password-set',
    limit: (c: ApiConfig) => c.LOGIN_RATE_LIMIT,
  })),
  ...['/v1/auth/invitations/accept', '/invitations/accept'].map((path) => ({
    method: 'POST',
    path,
    name: 'invitation-accept',
    limit: (c: ApiConfig) => c.LOGIN_RATE_LIMIT,
  })),
];

/** Applies the policy of the request's route, if any: 429 with Retry-After past the limit. */
export function rateLimits(windowMs = 60_000): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const policy = POLICIES.find((p) => p.method === c.req.method && p.path === c.req.path);
    if (!policy) return next();
    const services = c.get('services');
    const limit = policy.limit(services.config);
    const ip = services.clientIp(c);
    const decision = await services.limiter.hit(
      `${policy.name}:${c.get('tenant').id}:${ip}`,
      limit,
      windowMs,
    );
    c.header('RateLimit-Limit', String(limit));
    c.header('RateLimit-Remaining', String(decision.remaining));
    c.header('RateLimit-Reset', String(decision.resetSeconds));
    if (!decision.allowed) {
      services.log.count('rate_limited');
      throw new ApiError('rate_limited', `Try again in ${decision.resetSeconds} seconds.`, {
        headers: { 'Retry-After': String(decision.resetSeconds) },
      });
    }
    await next();
  };
}
