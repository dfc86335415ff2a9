import { z } from '@hono/zod-openapi';
import { TokenPair } from './schemas.js';

export const MfaChallenge = z
  .object({
    mfa_required: z
      .enum(['verify', 'enrol'])
      .describe(
        '`verify`: send a code from the authenticator (or a recovery code) to /v1/auth/mfa/verify. `enrol`: the tenant requires a second factor for your role; set one up with /v1/auth/mfa/enrolment.',
      ),
    challenge_token: z
      .string()
      .describe('Proves the password was right; valid 5 minutes, on this tenant only.'),
    expires_in: z.number().int().describe('Seconds until the challenge token expires.'),
  })
  .openapi('MfaChallenge');

export const LoginResult = z.union([TokenPair, MfaChallenge]).openapi('LoginResult');

export const MfaVerifyRequest = z
  .object({
    challenge_token: z.string().min(1).max(2048),
    code: z
      .string()
      .regex(/^[0-9]{6}$/)
      .optional()
      .describe('The 6-digit code the authenticator shows now.'),
    recovery_code: z
      .string()
      .min(16)
      .max(32)
      .optional()
      .describe('One of the recovery codes (each works once).'),
  })
  .refine((b) => (b.code === undefined) !== (b.recovery_code === undefined), {
    message: 'Send either code or recovery_code.',
    path: ['code'],
  })
  .openapi('MfaVerifyRequest', {
    example: { challenge_token: 'eyJhbGciOiJFUzI1NiIs…', code: '492039' },
  });

export const MfaEnrolmentRequest = z
  .object({
    challenge_token: z
      .string()
      .min(1)
      .max(2048)
      .optional()
      .describe('From login (`mfa_required: "enrol"`); omit when calling with a bearer token.'),
  })
  .openapi('MfaEnrolmentRequest', { example: { challenge_token: 'eyJhbGciOiJFUzI1NiIs…' } });

export const MfaEnrolment = z
  .object({
    secret: z.string().describe('Base32 TOTP secret, for typing into an authenticator.'),
    otpauth_uri: z.string().describe('`otpauth://totp/…` URI (what the QR code encodes).'),
    qr_svg: z.string().describe('The URI as a QR code, an SVG document.'),
  })
  .openapi('MfaEnrolment');

export const MfaConfirmRequest = z
  .object({
    challenge_token: z.string().min(1).max(2048).optional(),
    code: z.string().regex(/^[0-9]{6}$/),
  })
  .openapi('MfaConfirmRequest', { example: { code: '492039' } });

export const MfaConfirmed = z
  .object({
    recovery_codes: z
      .array(z.string())
      .describe('Ten single-use codes for when the authenticator is lost; shown only now.'),
    tokens: TokenPair.nullable().describe(
      'A new session when enrolment completed a sign-in (challenge token); null otherwise.',
    ),
  })
  .openapi('MfaConfirmed');

export const AuthPolicy = z
  .object({
    mfa_required_roles: z
      .array(z.string().regex(/^[a-z][a-z0-9_]*$/))
      .max(50)
      .describe('Role keys whose holders must use a second factor to sign in.'),
  })
  .openapi('AuthPolicy', {
    example: { mfa_required_roles: ['platform_admin', 'network_admin', 'principal'] },
  });
