import { and, eq, isNull, sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import { hashPassword, passwordWeakness } from '../../db/passwords.js';
import * as t from '../../db/schema/tenant.js';
import type { TenantSchema } from '../../db/schema/types.js';
import type { OrgReach } from '../auth/scope.js';
import { hashToken } from '../auth/sessions.js';
import { ApiError } from '../problems.js';
import type { MailSender } from './mail.js';

/**
 * Invitations (docs/tenancy-and-security.md#invitations): an invited user exists with status
 * `invited`, no password and the role they will hold; the mail carries a single-use link whose
 * token is stored only as its SHA-256. Accepting sets the password and activates the user.
 * Issuing is one set-based statement whatever the number of recipients, so inviting every
 * guardian of a school costs a handful of statements, not one round trip per family.
 */

export const ACCEPT_PATH = '/invitations/accept';

export interface IssueContext {
  tenantId: string;
  sender: MailSender;
  /** Scheme and host the link points at. */
  origin: string;
  ttlDays: number;
  invitedBy: string | null;
  inviterName: string | null;
  timezone: string;
}

export interface Issued {
  invitationId: string;
  outboxId: string;
  userId: string;
  email: string;
  /** The link with the token: for the CLI without SMTP; never returned by the API. */
  link: string;
}

/**
 * Issues one invitation (and one outbox row, and its `queued` log entry) per row of
 * `recipients`, a SELECT yielding: user_id, email, first_name, kind, role_id, org_unit_id,
 * guardian_id, role_name, place_name, sent_count. Tokens are made in SQL — two random UUIDs,
 * 244 random bits — and hashed there with the same SHA-256 hex as `hashToken`.
 */
export async function issueInvitations(
  tx: Tx<TenantSchema>,
  recipients: SQL,
  o: IssueContext,
): Promise<Issued[]> {
  const brand = JSON.stringify({ ...o.sender.brand, timezone: o.timezone });
  const link = sql`${o.origin + ACCEPT_PATH + '?token='} || token`;
  const result = await tx.execute(sql`
    with r as (${recipients}),
    tok as (
      select r.*, gen_random_uuid() as invitation_id, gen_random_uuid() as outbox_id,
             replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '') as token,
             now() + make_interval(days => ${o.ttlDays}) as expires_at
      from r),
    inv as (
      insert into invitations (tenant_id, id, user_id, email, kind, role_id, org_unit_id,
                               guardian_id, token_hash, expires_at, invited_by, sent_count)
      select ${o.tenantId}, invitation_id, user_id, email, kind, role_id, org_unit_id, guardian_id,
             encode(sha256(convert_to(token, 'UTF8')), 'hex'), expires_at, ${o.invitedBy},
             sent_count
      from tok
      returning id),
    box as (
      insert into outbox (tenant_id, id, template, to_address, to_name, from_name, reply_to, payload)
      select ${o.tenantId}, outbox_id, 'invitation', email, first_name, ${o.sender.fromName},
             ${o.sender.replyTo},
             jsonb_build_object('link', ${link}, 'first_name', first_name, 'kind', kind,
                                'role', role_name, 'place', place_name,
                                'inviter', ${o.inviterName}::text, 'expires_at', expires_at)
               || ${brand}::jsonb
      from tok
      returning id),
    log as (
      insert into mail_deliveries (tenant_id, outbox_id, event)
      select ${o.tenantId}, outbox_id, 'queued' from tok)
    select invitation_id::text, outbox_id::text, user_id::text, email, ${link} as link
    from tok`);
  return rowsOf<{
    invitation_id: string;
    outbox_id: string;
    user_id: string;
    email: string;
    link: string;
  }>(result).map((r) => ({
    invitationId: r.invitation_id,
    outboxId: r.outbox_id,
    userId: r.user_id,
    email: r.email,
    link: r.link,
  }));
}

const conflict = (why: string) => new ApiError('conflict', why);

/** Ends every invitation of a user that is still open (a new one supersedes them). */
async function supersede(tx: Tx<TenantSchema>, userId: string): Promise<void> {
  await tx
    .update(t.invitations)
    .set({ revokedAt: sql`now()` })
    .where(
      and(
        eq(t.invitations.userId, userId),
        isNull(t.invitations.acceptedAt),
        isNull(t.invitations.revokedAt),
      ),
    );
}

/** The user an invitation goes to: an `invited` one with this email, or a new one. */
async function invitee(
  tx: Tx<TenantSchema>,
  tenantId: string,
  person: { email: string; firstName: string; lastName: string; userId?: string | null },
): Promise<string> {
  const [existing] = await tx
    .select({ id: t.users.id, status: t.users.status })
    .from(t.users)
    .where(
      and(
        person.userId
          ? eq(t.users.id, person.userId)
          : sql`lower(${t.users.email}) = lower(${person.email})`,
        isNull(t.users.deletedAt),
      ),
    )
    .limit(1);
  if (existing) {
    if (existing.status !== 'invited') throw conflict('This person already has an account.');
    return existing.id;
  }
  const [taken] = await tx
    .select({ id: t.users.id })
    .from(t.users)
    .where(and(sql`lower(${t.users.email}) = lower(${person.email})`, isNull(t.users.deletedAt)));
  if (taken) throw conflict('Another account uses this email address.');
  const [created] = await tx
    .insert(t.users)
    .values({
      tenantId,
      email: person.email.toLowerCase(),
      firstName: person.firstName,
      lastName: person.lastName,
      status: 'invited',
    })
    .returning({ id: t.users.id });
  return created!.id;
}

async function grantRole(
  tx: Tx<TenantSchema>,
  tenantId: string,
  userId: string,
  roleId: string,
  orgUnitId: string | null,
) {
  await tx.execute(sql`
    insert into user_roles (tenant_id, user_id, role_id, org_unit_id)
    values (${tenantId}, ${userId}, ${roleId}, ${orgUnitId})
    on conflict do nothing`);
}

/** Invites a member of staff to hold `role` at `orgUnitId` (the grant is checked by the caller). */
export async function inviteStaff(
  tx: Tx<TenantSchema>,
  o: IssueContext,
  input: {
    email: string;
    firstName: string;
    lastName: string;
    role: { id: string; name: string };
    orgUnit: { id: string; name: string } | null;
  },
): Promise<Issued> {
  const userId = await invitee(tx, o.tenantId, input);
  await grantRole(tx, o.tenantId, userId, input.role.id, input.orgUnit?.id ?? null);
  await supersede(tx, userId);
  const [issued] = await issueInvitations(
    tx,
    sql`select ${userId}::uuid as user_id, lower(${input.email}) as email,
               ${input.firstName}::text as first_name, 'staff'::text as kind,
               ${input.role.id}::uuid as role_id, ${input.orgUnit?.id ?? null}::uuid as org_unit_id,
               null::uuid as guardian_id, ${input.role.name}::text as role_name,
               ${input.orgUnit?.name ?? null}::text as place_name, 1 as sent_count`,
    o,
  );
  return issued!;
}

async function parentRoleId(tx: Tx<TenantSchema>): Promise<string> {
  const [role] = await tx
    .select({ id: t.roles.id })
    .from(t.roles)
    .where(and(eq(t.roles.key, 'parent'), isNull(t.roles.deletedAt)));
  if (!role) throw new ApiError('unprocessable', 'The tenant has no parent role.');
  return role.id;
}

/** Invites one guardian as a parent user; `school` is where the invitation is issued. */
export async function inviteGuardian(
  tx: Tx<TenantSchema>,
  o: IssueContext,
  guardian: {
    id: string;
    email: string;
    firstName: string;
    lastName: string;
    userId: string | null;
  },
  school: { id: string; name: string },
): Promise<Issued> {
  const userId = await invitee(tx, o.tenantId, guardian);
  if (guardian.userId !== userId) {
    await tx.update(t.guardians).set({ userId }).where(eq(t.guardians.id, guardian.id));
  }
  await grantRole(tx, o.tenantId, userId, await parentRoleId(tx), null);
  await supersede(tx, userId);
  const [issued] = await issueInvitations(
    tx,
    sql`select ${userId}::uuid as user_id, lower(${guardian.email}) as email,
               ${guardian.firstName}::text as first_name, 'guardian'::text as kind,
               null::uuid as role_id, ${school.id}::uuid as org_unit_id,
               ${guardian.id}::uuid as guardian_id, 'Parent'::text as role_name,
               ${school.name}::text as place_name, 1 as sent_count`,
    o,
  );
  return issued!;
}

/**
 * Invites every guardian of the school's current students who has an email address and no
 * account yet (nor a live invitation), in four set-based statements: create the missing
 * users, link the guardians to them, grant the parent role, issue. Guardians sharing an
 * address get one account.
 */
export async function inviteSchoolGuardians(
  tx: Tx<TenantSchema>,
  o: IssueContext,
  school: { id: string; name: string },
): Promise<{ issued: Issued[] }> {
  const tenantId = o.tenantId;
  const parent = await parentRoleId(tx);
  // The school's guardians who can receive mail, with the account their address maps to.
  const targets = sql`
    select distinct on (lower(g.email)) g.id as guardian_id, lower(g.email) as email,
           g.first_name, g.last_name, g.user_id
    from guardians g
    join student_guardians sg on sg.guardian_id = g.id and sg.deleted_at is null
    join students s on s.id = sg.student_id and s.deleted_at is null
    where s.school_id = ${school.id} and g.deleted_at is null
      and g.email is not null and position('@' in g.email) > 1
    order by lower(g.email), g.id`;
  await tx.execute(sql`
    insert into users (tenant_id, email, first_name, last_name, status)
    select ${tenantId}, tg.email, tg.first_name, tg.last_name, 'invited'
    from (${targets}) tg
    where tg.user_id is null
      and not exists (select 1 from users u
                      where lower(u.email) = tg.email and u.deleted_at is null)`);
  await tx.execute(sql`
    update guardians g set user_id = u.id
    from (${targets}) tg
    join users u on lower(u.email) = tg.email and u.deleted_at is null and u.status = 'invited'
    where lower(g.email) = tg.email and g.user_id is null and g.deleted_at is null
      and g.id in (select sg.guardian_id from student_guardians sg
                   join students s on s.id = sg.student_id
                   where s.school_id = ${school.id} and sg.deleted_at is null)`);
  await tx.execute(sql`
    insert into user_roles (tenant_id, user_id, role_id)
    select distinct ${tenantId}::uuid, u.id, ${parent}::uuid
    from (${targets}) tg
    join users u on lower(u.email) = tg.email and u.deleted_at is null and u.status = 'invited'
    on conflict do nothing`);
  const issued = await issueInvitations(
    tx,
    sql`
      select u.id as user_id, tg.email, tg.first_name, 'guardian'::text as kind,
             null::uuid as role_id, ${school.id}::uuid as org_unit_id,
             tg.guardian_id, 'Parent'::text as role_name, ${school.name}::text as place_name,
             1 as sent_count
      from (${targets}) tg
      join users u on lower(u.email) = tg.email and u.deleted_at is null and u.status = 'invited'
      where not exists (select 1 from invitations i
                        where i.user_id = u.id and i.accepted_at is null
                          and i.revoked_at is null and i.expires_at > now())`,
    o,
  );
  return { issued };
}

export const INVITATION_STATUSES = ['pending', 'expired', 'accepted', 'revoked'] as const;
export type InvitationStatus = (typeof INVITATION_STATUSES)[number];

const statusSql = sql<InvitationStatus>`case
  when ${t.invitations.acceptedAt} is not null then 'accepted'
  when ${t.invitations.revokedAt} is not null then 'revoked'
  when ${t.invitations.expiresAt} <= now() then 'expired'
  else 'pending' end`;

/** Invitations issued within the reach (tenant-wide ones only for tenant-wide reach). */
export function withinInvitationReach(reach: OrgReach): SQL | undefined {
  if (reach.all) return undefined;
  if (reach.orgUnitIds.length === 0) return sql`false`;
  return sql`${t.invitations.orgUnitId} in ${sql`(${sql.join(
    reach.orgUnitIds.map((id) => sql`${id}::uuid`),
    sql`, `,
  )})`}`;
}

export const invitationColumns = {
  id: t.invitations.id,
  userId: t.invitations.userId,
  email: t.invitations.email,
  kind: t.invitations.kind,
  roleId: t.invitations.roleId,
  orgUnitId: t.invitations.orgUnitId,
  guardianId: t.invitations.guardianId,
  status: statusSql,
  expiresAt: t.invitations.expiresAt,
  acceptedAt: t.invitations.acceptedAt,
  revokedAt: t.invitations.revokedAt,
  invitedBy: t.invitations.invitedBy,
  sentCount: t.invitations.sentCount,
  createdAt: t.invitations.createdAt,
};

export async function listInvitations(
  tx: Tx<TenantSchema>,
  reach: OrgReach,
  filters: { status?: InvitationStatus; orgUnitId?: string; limit: number },
) {
  return tx
    .select(invitationColumns)
    .from(t.invitations)
    .where(
      and(
        withinInvitationReach(reach),
        filters.status ? sql`${statusSql} = ${filters.status}` : undefined,
        filters.orgUnitId ? eq(t.invitations.orgUnitId, filters.orgUnitId) : undefined,
      ),
    )
    .orderBy(sql`${t.invitations.createdAt} desc`, t.invitations.id)
    .limit(filters.limit);
}

export async function findInvitation(tx: Tx<TenantSchema>, reach: OrgReach, id: string) {
  const [row] = await tx
    .select(invitationColumns)
    .from(t.invitations)
    .where(and(eq(t.invitations.id, id), withinInvitationReach(reach)));
  return row ?? null;
}

/** Revokes an open invitation; false when it was no longer open. */
export async function revokeInvitation(tx: Tx<TenantSchema>, id: string): Promise<boolean> {
  const done = await tx
    .update(t.invitations)
    .set({ revokedAt: sql`now()` })
    .where(
      and(
        eq(t.invitations.id, id),
        isNull(t.invitations.acceptedAt),
        isNull(t.invitations.revokedAt),
      ),
    )
    .returning({ id: t.invitations.id });
  return done.length > 0;
}

/**
 * Sends an invitation again: the old link stops working and a new one, with a fresh
 * expiry, goes out. Only an invitation not yet accepted or revoked (an expired one may be).
 */
export async function resendInvitation(
  tx: Tx<TenantSchema>,
  o: IssueContext,
  id: string,
): Promise<Issued | null> {
  if (!(await revokeInvitation(tx, id))) return null;
  const [issued] = await issueInvitations(
    tx,
    sql`
      select i.user_id, i.email, u.first_name, i.kind, i.role_id, i.org_unit_id, i.guardian_id,
             coalesce(r.name, 'Parent') as role_name, ou.name as place_name,
             i.sent_count + 1 as sent_count
      from invitations i
      join users u on u.id = i.user_id
      left join roles r on r.id = i.role_id
      left join org_units ou on ou.id = i.org_unit_id
      where i.id = ${id}`,
    o,
  );
  return issued ?? null;
}

export type AcceptFailure = 'invalid' | 'weak_password';

/** What the accept page shows before the password is set; null for an unusable token. */
export async function openInvitation(tx: Tx<TenantSchema>, token: string) {
  const [row] = await tx
    .select({
      id: t.invitations.id,
      userId: t.invitations.userId,
      email: t.users.email,
      firstName: t.users.firstName,
      lastName: t.users.lastName,
    })
    .from(t.invitations)
    .innerJoin(t.users, eq(t.users.id, t.invitations.userId))
    .where(
      and(
        eq(t.invitations.tokenHash, await hashToken(token)),
        isNull(t.invitations.acceptedAt),
        isNull(t.invitations.revokedAt),
        sql`${t.invitations.expiresAt} > now()`,
        eq(t.users.status, 'invited'),
        isNull(t.users.deletedAt),
      ),
    );
  return row ?? null;
}

/**
 * Accepts an invitation: checks the password's strength, claims the token (one UPDATE: of
 * two concurrent accepts one wins), sets the password and activates the user.
 */
export async function acceptInvitation(
  tx: Tx<TenantSchema>,
  token: string,
  password: string,
): Promise<
  | { ok: true; userId: string; invitationId: string }
  | { ok: false; reason: AcceptFailure; detail?: string }
> {
  const open = await openInvitation(tx, token);
  if (!open) return { ok: false, reason: 'invalid' };
  const weak = passwordWeakness(password, [open.email, open.firstName, open.lastName]);
  if (weak) return { ok: false, reason: 'weak_password', detail: `The password ${weak}.` };
  const [claimed] = await tx
    .update(t.invitations)
    .set({ acceptedAt: sql`now()` })
    .where(
      and(
        eq(t.invitations.id, open.id),
        isNull(t.invitations.acceptedAt),
        isNull(t.invitations.revokedAt),
        sql`${t.invitations.expiresAt} > now()`,
      ),
    )
    .returning({ id: t.invitations.id });
  if (!claimed) return { ok: false, reason: 'invalid' };
  await tx
    .update(t.users)
    .set({
      passwordHash: await hashPassword(password),
      status: 'active',
      failedLoginCount: 0,
      lockedUntil: null,
    })
    .where(eq(t.users.id, open.userId));
  await supersede(tx, open.userId);
  return { ok: true, userId: open.userId, invitationId: open.id };
}

/**
 * Invites a user who exists already as `invited` with their role (the first admin of a new
 * tenant, created by the CLI without a password): one invitation for their tenant-wide or
 * first grant.
 */
export async function inviteExistingUser(
  tx: Tx<TenantSchema>,
  o: IssueContext,
  userId: string,
): Promise<Issued> {
  await supersede(tx, userId);
  const [issued] = await issueInvitations(
    tx,
    sql`
      select u.id as user_id, lower(u.email) as email, u.first_name, 'staff'::text as kind,
             r.id as role_id, ur.org_unit_id, null::uuid as guardian_id, r.name as role_name,
             ou.name as place_name, 1 as sent_count
      from users u
      join user_roles ur on ur.user_id = u.id and ur.deleted_at is null
      join roles r on r.id = ur.role_id
      left join org_units ou on ou.id = ur.org_unit_id
      where u.id = ${userId} and u.status = 'invited' and u.deleted_at is null
      order by ur.org_unit_id nulls first, r.key
      limit 1`,
    o,
  );
  if (!issued) throw new ApiError('conflict', 'The user is not waiting for an invitation.');
  return issued;
}
