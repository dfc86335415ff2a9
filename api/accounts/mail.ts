import type { Context } from 'hono';
import { sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import type { TenantContext } from '../../db/control-plane.js';
import type { MailTemplate } from '../../db/schema/accounts.js';
import type { TenantSchema } from '../../db/schema/types.js';
import type { AppEnv } from '../app-env.js';
import { onCommit } from '../tenancy/middleware.js';

/**
 * Writing mail: a row in the tenant's outbox, in the transaction of the event that causes
 * it, and a delivery job once that transaction has committed (docs/operations.md#mail).
 */

/** Who a tenant's mail is from, and how it looks: the tenant's own name, colour and logo. */
export interface MailSender {
  fromName: string;
  replyTo: string | null;
  /** Goes into every payload: the templates read the branding from it. */
  brand: { tenant_name: string; accent: string | null; logo_url: string | null };
}

const HEX_COLOUR = /^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i;
const EMAIL = /^[^\s@<>",;]+@[^\s@<>",;]+$/;
// Header values: no line breaks (header injection), printable, bounded.
const headerSafe = (s: string) => s.replace(/[\r\n\t\u0000-\u001f\u007f]+/g, ' ').slice(0, 120);

export function senderOf(tenant: Pick<TenantContext, 'name' | 'branding'>): MailSender {
  const b = tenant.branding;
  const logo = b.logoUrl && /^https:\/\/[^\s"'<>]+$/.test(b.logoUrl) ? b.logoUrl : null;
  return {
    fromName: headerSafe(b.mailFromName?.trim() || tenant.name),
    replyTo: b.mailReplyTo && EMAIL.test(b.mailReplyTo) ? b.mailReplyTo : null,
    brand: {
      tenant_name: tenant.name,
      accent: b.primaryColor && HEX_COLOUR.test(b.primaryColor) ? b.primaryColor : null,
      logo_url: logo,
    },
  };
}

/**
 * The origin links in mail point at: the host this request reached the tenant through (it
 * resolved to this tenant, so it is one of the tenant's own domains), with the scheme the
 * client used (the proxy's, when forwarded headers are trusted).
 */
export function linkOrigin(c: Context<AppEnv>): string {
  const url = new URL(c.req.url);
  const trust = c.get('services').config.TRUST_FORWARDED_HEADERS;
  const host =
    (trust ? c.req.header('x-forwarded-host')?.split(',')[0]?.trim() : undefined) ??
    c.req.header('host') ??
    url.host;
  const proto =
    (trust ? c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() : undefined) ??
    url.protocol.replace(':', '');
  return `${proto === 'https' ? 'https' : 'http'}://${host.toLowerCase()}`;
}

/** One mail into the outbox (and its `queued` delivery-log entry); returns the row id. */
export async function writeMail(
  tx: Tx<TenantSchema>,
  tenantId: string,
  sender: MailSender,
  mail: {
    template: MailTemplate;
    to: string;
    toName: string | null;
    payload: Record<string, unknown>;
  },
): Promise<string> {
  const result = await tx.execute(sql`
    with box as (
      insert into outbox (tenant_id, template, to_address, to_name, from_name, reply_to, payload)
      values (${tenantId}, ${mail.template}, ${mail.to}, ${mail.toName}, ${sender.fromName},
              ${sender.replyTo}, ${JSON.stringify({ ...mail.payload, ...sender.brand })}::jsonb)
      returning id),
    log as (insert into mail_deliveries (tenant_id, outbox_id, event)
            select ${tenantId}, id, 'queued' from box)
    select id::text from box`);
  return rowsOf<{ id: string }>(result)[0]!.id;
}

/**
 * Enqueues the delivery of outbox rows once the request has committed. It does not hold up
 * the response (a slow or absent Redis must not show in its timing: the password-reset
 * request answers alike for known and unknown emails); a failed enqueue leaves the rows to
 * the mail sweep.
 */
export function deliverAfterCommit(c: Context<AppEnv>, outboxIds: readonly string[]): void {
  if (outboxIds.length === 0) return;
  const services = c.get('services');
  const tenantId = c.get('tenant').id;
  onCommit(c, async () => {
    const work = services.mail.enqueueMail(tenantId, outboxIds).catch(() => false);
    try {
      c.executionCtx.waitUntil(work);
    } catch {
      // Node has no execution context: the promise runs on by itself.
    }
  });
}
