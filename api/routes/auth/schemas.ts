import { z } from '@hono/zod-openapi';

export const LoginRequest = z
  .object({
    email: z.string().trim().min(3).max(320).openapi({ example: 'admin@alpha.example' }),
    password: z.string().min(1).max(1024),
  })
  .openapi('LoginRequest');

export const RefreshRequest = z
  .object({
    refresh_token: z
      .string()
      .min(1)
      .max(512)
      .describe('The refresh token of the last login or refresh.'),
  })
  .openapi('RefreshRequest');

export const TokenPair = z
  .object({
    access_token: z.string().describe('ES256 JWT for `Authorization: Bearer`.'),
    refresh_token: z
      .string()
      .describe('Opaque, single-use: each refresh returns a new one; reuse revokes the session.'),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int().describe('Seconds until the access token expires.'),
  })
  .openapi('TokenPair');

export const Me = z
  .object({
    user: z.object({
      id: z.uuid(),
      email: z.string(),
      first_name: z.string(),
      last_name: z.string(),
      status: z.string(),
      last_login_at: z.string().nullable().describe('ISO-8601 UTC'),
    }),
    tenant: z.object({ id: z.uuid(), slug: z.string(), name: z.string() }),
    roles: z.array(
      z.object({
        key: z.string(),
        name: z.string(),
        org_unit: z
          .object({ id: z.uuid(), name: z.string(), kind: z.string() })
          .nullable()
          .describe('The org unit (and its subtree) the role applies to; null = the whole tenant.'),
      }),
    ),
    permissions: z.array(z.string()),
  })
  .openapi('Me');
