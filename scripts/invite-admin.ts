import { senderOf } from '../api/accounts/mail.js';
import { inviteExistingUser } from '../api/accounts/invitations.js';
import type { DbEnv } from '../db/env.js';
import { createLogger } from '../db/log.js';
import { openNode, tenantBranchOwner } from '../db/platform.js';
import * as tenantSchema from '../db/schema/tenant.js';
import { withTenant } from '../db/tenancy.js';
import { ControlPlane } from '../workers/control.js';

/**
 * The CLI's invitation of a new tenant's first admin: issued like any invitation (outbox
 * row, hashed token), then delivered at once over SMTP_URL when it is set — the CLI does not
 * wait for a mail worker — or else the link is returned for the operator to pass on. Either
 * way the outbox row stays until delivered, so a worker started later sends it too.
 */
export async function inviteFirstAdmin(
  env: DbEnv,
  input: { slug: string; name: string; adminUserId: string; origin: string },
): Promise<{ email: string; link: string; delivered: boolean }> {
  const target = await tenantBranchOwner(env, input.slug);
  if (!target) throw new Error(`tenant ${input.slug} vanished after creation`);
  const branch = await openNode(target.ownerUrl, tenantSchema, 1);
  let issued;
  try {
    issued = await withTenant(branch.db, target.tenantId, (tx) =>
      inviteExistingUser(
        tx,
        {
          tenantId: target.tenantId,
          sender: senderOf({ name: input.name, branding: {} }),
          origin: input.origin,
          ttlDays: 7,
          invitedBy: null,
          inviterName: null,
          timezone: 'UTC',
        },
        input.adminUserId,
      ),
    );
  } finally {
    await branch.close();
  }
  const smtp = process.env.SMTP_URL;
  if (!smtp) return { email: issued.email, link: issued.link, delivered: false };
  const { deliverOutboxRow, smtpTransport } = await import('../workers/mail.js');
  const directory = new ControlPlane(env, { cacheTtlMs: 0, branchPoolMax: 1 });
  const transport = smtpTransport(smtp);
  try {
    await deliverOutboxRow(
      {
        directory,
        transport,
        from: process.env.MAIL_FROM || 'no-reply@localhost',
        log: createLogger('warn', { service: 'tenant-cli' }),
      },
      { tenantId: target.tenantId, outboxId: issued.outboxId },
      true,
    );
  } catch (err) {
    // The tenant exists; the operator can still pass the link on (a worker retries the mail).
    console.error(`warning: the invitation mail was not sent: ${(err as Error).message}`);
    return { email: issued.email, link: issued.link, delivered: false };
  } finally {
    transport.close();
    await directory.close();
  }
  return { email: issued.email, link: issued.link, delivered: true };
}

/** The whole of stdin without its final line break (a password piped in). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}
