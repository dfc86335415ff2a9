import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../app-env.js';
import { ApiError } from '../problems.js';
import type { RedisProvider } from '../redis.js';
import type { Logger } from '../log.js';

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
        const [count, ttl] = (await client.eval(SCRIPT, 1, `rl:${key}`, String(windowMs))) as [
          number,
          number,
        ];
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

/** Limits a route per tenant and client IP; 429 with Retry-After past the limit. */
export function rateLimit(options: {
  name: string;
  limit: (c: Parameters<MiddlewareHandler<AppEnv>>[0]) => number;
  windowMs?: number;
}): MiddlewareHandler<AppEnv> {
  const windowMs = options.windowMs ?? 60_000;
  return async (c, next) => {
    const services = c.get('services');
    const tenant = c.get('tenant');
    const limit = options.limit(c);
    const ip = services.clientIp(c);
    const decision = await services.limiter.hit(
      `${options.name}:${tenant.id}:${ip}`,
      limit,
      windowMs,
    );
    c.header('RateLimit-Limit', String(limit));
    c.header('RateLimit-Remaining', String(decision.remaining));
    c.header('RateLimit-Reset', String(decision.resetSeconds));
    if (!decision.allowed) {
      throw new ApiError('rate_limited', `Try again in ${decision.resetSeconds} seconds.`, {
        headers: { 'Retry-After': String(decision.resetSeconds) },
      });
    }
    await next();
  };
}
