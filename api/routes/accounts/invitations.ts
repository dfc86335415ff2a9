import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { and, eq, isNull } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { SCHOOL_KINDS } from '../../../db/schema/org.js';
import {
  findInvitation,
  INVITATION_STATUSES,
  inviteGuardian,
  inviteSchoolGuardians,
  inviteStaff,
  listInvitations,
  resendInvitation,
  revokeInvitation,
  type IssueContext,
} from '../../accounts/invitations.js';
import { deliverAfterCommit, linkOrigin, senderOf } from '../../accounts/mail.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { orgReach, type OrgReach } from '../../auth/scope.js';
import { ApiError } from '../../problems.js';
import { guarded } from '../../resources/crud.js';
import { problemResponses } from '../openapi.js';
import { checkGrant } from '../org/users.js';

/**
 * Invitations (docs/tenancy-and-security.md#invitations). Inviting is `users.write` within
 * the caller's reach: a principal invites staff to roles at their own school (checked like
 * any role grant: never above their own permissions, never platform_admin) and the
 * guardians of their own school's students; tenant-wide grants and invitations need
 * tenant-wide reach. The link itself never appears in a response: it goes by mail only.
 */

const PERMISSION = 'users.write';

const Invitation = z
  .object({
    id: z.uuid(),
    user_id: z.uuid(),
    email: z.string(),
    kind: z.enum(['staff', 'guardian']),
    role_id: z.uuid().nullable(),
    org_unit_id: z
      .uuid()
      .nullable()
      .describe('Where it was issued (the grant’s org unit, the guardian’s school).'),
    guardian_id: z.uuid().nullable(),
    status: z.enum(INVITATION_STATUSES),
    expires_at: z.string().describe('ISO-8601 UTC'),
    accepted_at: z.string().nullable(),
    revoked_at: z.string().nullable(),
    invited_by: z.uuid().nullable(),
    sent_count: z.number().int(),
    created_at: z.string(),
  })
  .openapi('Invitation');

const StaffInvite = z.object({
  kind: z.literal('staff'),
  email: z.email().max(254),
  first_name: z.string().trim().min(1).max(100),
  last_name: z.string().trim().min(1).max(100),
  role: z
    .string()
    .regex(/^[a-z][a-z0-9_]*$/)
    .max(64)
    .openapi({ description: 'Role key, e.g. `teacher`.' }),
  org_unit_id: z.uuid().nullable().openapi({ description: 'Scope; null = the whole tenant.' }),
});
const GuardianInvite = z.object({
  kind: z.literal('guardian'),
  guardian_id: z.uuid(),
  school_id: z
    .uuid()
    .optional()
    .openapi({ description: 'The school it is issued for; default: one of the children’s.' }),
});
const InvitationCreate = z
  .discriminatedUnion('kind', [StaffInvite, GuardianInvite])
  .openapi('InvitationCreate');

const BulkGuardians = z.object({ school_id: z.uuid() }).openapi('GuardianInvitationsCreate', {
  description: 'Invite every guardian (with an email, no account yet) of a school’s students.',
});
const BulkResult = z
  .object({ invited: z.number().int(), invitation_ids: z.array(z.uuid()) })
  .openapi('GuardianInvitations');

const IdParam = z.object({
  id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, description: 'Invitation id.' }),
});
const ListQuery = z.object({
  status: z.enum(INVITATION_STATUSES).optional(),
  org_unit_id: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

type Ctx = Context<AppEnv>;
const json = <S extends z.ZodType>(schema: S) => ({ 'application/json': { schema } });
const iso = (d: Date | null) => (d ? d.toISOString() : null);

function shape(row: NonNullable<Awaited<ReturnType<typeof findInvitation>>>) {
  return {
    id: row.id,
    user_id: row.userId,
    email: row.email,
    kind: row.kind as 'staff' | 'guardian',
    role_id: row.roleId,
    org_unit_id: row.orgUnitId,
    guardian_id: row.guardianId,
    status: row.status,
    expires_at: row.expiresAt.toISOString(),
    accepted_at: iso(row.acceptedAt),
    revoked_at: iso(row.revokedAt),
    invited_by: row.invitedBy,
    sent_count: row.sentCount,
    created_at: row.createdAt.toISOString(),
  };
}

/** How the request's invitations are issued: sender, link origin, expiry, inviter. */
async function issueContext(c: Ctx): Promise<IssueContext> {
  const tenant = c.get('tenant');
  const principal = c.get('principal');
  const [me] = await c
    .get('tx')
    .select({ first: t.users.firstName, last: t.users.lastName })
    .from(t.users)
    .where(eq(t.users.id, principal.userId));
  return {
    tenantId: tenant.id,
    sender: senderOf(tenant),
    origin: linkOrigin(c),
    ttlDays: c.get('services').config.INVITATION_TTL_DAYS,
    invitedBy: principal.userId,
    inviterName: me ? `${me.first} ${me.last}` : null,
    timezone: tenant.timezone,
  };
}

const inReach = (reach: OrgReach, orgUnitId: string | null) =>
  reach.all || (orgUnitId !== null && reach.orgUnitIds.includes(orgUnitId));

async function school(c: Ctx, id: string) {
  const [row] = await c
    .get('tx')
    .select({ id: t.orgUnits.id, name: t.orgUnits.name, kind: t.orgUnits.kind })
    .from(t.orgUnits)
    .where(and(eq(t.orgUnits.id, id), isNull(t.orgUnits.deletedAt)));
  return row && (SCHOOL_KINDS as readonly string[]).includes(row.kind) ? row : null;
}

async function createOne(c: Ctx, body: z.infer<typeof InvitationCreate>, reach: OrgReach) {
  const tx = c.get('tx');
  const o = await issueContext(c);
  if (body.kind === 'staff') {
    const [role] = await tx
      .select({ id: t.roles.id, key: t.roles.key, name: t.roles.name })
      .from(t.roles)
      .where(and(eq(t.roles.key, body.role), isNull(t.roles.deletedAt)));
    if (!role)
      throw new ApiError('unprocessable', 'No such role.', {
        invalidParams: [{ name: 'json.role', reason: 'no such role' }],
      });
    if (role.key === 'parent' || role.key === 'student')
      throw new ApiError('unprocessable', 'Invite guardians with kind "guardian".', {
        invalidParams: [{ name: 'json.role', reason: 'is not a staff role' }],
      });
    let unit: { id: string; name: string } | null = null;
    if (body.org_unit_id) {
      const [row] = await tx
        .select({ id: t.orgUnits.id, name: t.orgUnits.name })
        .from(t.orgUnits)
        .where(and(eq(t.orgUnits.id, body.org_unit_id), isNull(t.orgUnits.deletedAt)));
      if (!row) throw new ApiError('forbidden', 'The org unit is outside your reach.');
      unit = row;
    }
    await checkGrant(c, role.key, role.id, body.org_unit_id);
    return inviteStaff(tx, o, {
      email: body.email,
      firstName: body.first_name,
      lastName: body.last_name,
      role: { id: role.id, name: role.name },
      orgUnit: unit,
    });
  }
  // A guardian the caller reaches: one with a child at a school within the reach.
  const schools = await tx
    .selectDistinct({ id: t.orgUnits.id, name: t.orgUnits.name })
    .from(t.studentGuardians)
    .innerJoin(t.students, eq(t.students.id, t.studentGuardians.studentId))
    .innerJoin(t.orgUnits, eq(t.orgUnits.id, t.students.schoolId))
    .where(
      and(
        eq(t.studentGuardians.guardianId, body.guardian_id),
        isNull(t.studentGuardians.deletedAt),
        isNull(t.students.deletedAt),
      ),
    )
    .orderBy(t.orgUnits.name);
  const reachable = schools.filter((s) => inReach(reach, s.id));
  const at = body.school_id ? reachable.find((s) => s.id === body.school_id) : reachable[0];
  const [guardian] = reachable.length
    ? await tx
        .select({
          id: t.guardians.id,
          email: t.guardians.email,
          firstName: t.guardians.firstName,
          lastName: t.guardians.lastName,
          userId: t.guardians.userId,
        })
        .from(t.guardians)
        .where(and(eq(t.guardians.id, body.guardian_id), isNull(t.guardians.deletedAt)))
    : [];
  if (!guardian || !at) throw new ApiError('not_found', 'No such guardian within your reach.');
  if (!guardian.email)
    throw new ApiError('unprocessable', 'The guardian has no email address to invite.');
  return inviteGuardian(tx, o, { ...guardian, email: guardian.email }, at);
}

export function registerInvitations(app: OpenAPIHono<AppEnv>): void {
  registerCreate(app);
  registerInviteSchoolGuardians(app);
  registerList(app);
  registerGet(app);
  registerResend(app);
  registerRevoke(app);
}

/** POST /v1/invitations: invite one member of staff or guardian. */
function registerCreate(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'createInvitation',
      method: 'post',
      path: '/v1/invitations',
      tags: ['Invitations'],
      summary: 'Invite a member of staff or a guardian',
      description:
        'Creates the user as `invited` (with the role, or as a parent linked to the guardian record) and mails a single-use link valid for 7 days (`INVITATION_TTL_DAYS`). An earlier open invitation of the same person stops working. 409 when the person already has an account.',
      middleware: guarded(PERMISSION),
      request: { body: { content: json(InvitationCreate), required: true } },
      responses: {
        201: { description: 'Invited', content: json(Invitation) },
        ...problemResponses(400, 401, 403, 404, 409, 422, 429),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const reach = await orgReach(c.get('tx'), c.get('principal'), PERMISSION);
      const issued = await createOne(c, body, reach);
      const row = (await findInvitation(c.get('tx'), { all: true }, issued.invitationId))!;
      const out = shape(row);
      await audit(c, {
        action: 'invitation.create',
        entityType: 'invitation',
        entityId: row.id,
        after: out,
      });
      deliverAfterCommit(c, [issued.outboxId]);
      return c.json(out, 201);
    },
  );
}

/** POST /v1/invitations/guardians: invite every guardian of a school. */
function registerInviteSchoolGuardians(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'inviteSchoolGuardians',
      method: 'post',
      path: '/v1/invitations/guardians',
      tags: ['Invitations'],
      summary: 'Invite every guardian of a school',
      description:
        'Invites, in one go, each guardian of the school’s students who has an email address and neither an account nor a pending invitation (guardians sharing an address get one account). Safe to repeat: a second call invites only those added since.',
      middleware: guarded(PERMISSION),
      request: { body: { content: json(BulkGuardians), required: true } },
      responses: {
        202: { description: 'Invitations queued for delivery', content: json(BulkResult) },
        ...problemResponses(400, 401, 403, 404, 422, 429),
      },
    }),
    async (c) => {
      const { school_id } = c.req.valid('json');
      const reach = await orgReach(c.get('tx'), c.get('principal'), PERMISSION);
      const at = await school(c, school_id);
      if (!at || !inReach(reach, at.id))
        throw new ApiError('not_found', 'No such school within your reach.');
      const { issued } = await inviteSchoolGuardians(c.get('tx'), await issueContext(c), at);
      const ids = issued.map((i) => i.invitationId);
      await audit(c, {
        action: 'invitation.bulk_create',
        entityType: 'org_unit',
        entityId: at.id,
        after: { kind: 'guardian', invited: issued.length },
      });
      deliverAfterCommit(
        c,
        issued.map((i) => i.outboxId),
      );
      return c.json({ invited: issued.length, invitation_ids: ids }, 202);
    },
  );
}

/** GET /v1/invitations. */
function registerList(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'listInvitations',
      method: 'get',
      path: '/v1/invitations',
      tags: ['Invitations'],
      summary: 'Invitations issued within your reach, newest first',
      middleware: guarded(PERMISSION),
      request: { query: ListQuery },
      responses: {
        200: { description: 'Invitations', content: json(z.object({ data: z.array(Invitation) })) },
        ...problemResponses(400, 401, 403),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const reach = await orgReach(c.get('tx'), c.get('principal'), PERMISSION);
      const rows = await listInvitations(c.get('tx'), reach, {
        ...(q.status ? { status: q.status } : {}),
        ...(q.org_unit_id ? { orgUnitId: q.org_unit_id } : {}),
        limit: q.limit,
      });
      return c.json({ data: rows.map(shape) }, 200);
    },
  );
}

/** GET /v1/invitations/{id}. */
function registerGet(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'getInvitation',
      method: 'get',
      path: '/v1/invitations/{id}',
      tags: ['Invitations'],
      summary: 'One invitation',
      middleware: guarded(PERMISSION),
      request: { params: IdParam },
      responses: {
        200: { description: 'The invitation', content: json(Invitation) },
        ...problemResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const reach = await orgReach(c.get('tx'), c.get('principal'), PERMISSION);
      const row = await findInvitation(c.get('tx'), reach, id);
      if (!row) throw new ApiError('not_found');
      return c.json(shape(row), 200);
    },
  );
}

/** POST /v1/invitations/{id}/resend. */
function registerResend(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'resendInvitation',
      method: 'post',
      path: '/v1/invitations/{id}/resend',
      tags: ['Invitations'],
      summary: 'Send an invitation again, with a new link',
      description:
        'The old link stops working; the new invitation (a new id) has a fresh expiry. Only a pending or expired invitation can be re-sent (409 otherwise).',
      middleware: guarded(PERMISSION),
      request: { params: IdParam },
      responses: {
        201: { description: 'The new invitation', content: json(Invitation) },
        ...problemResponses(400, 401, 403, 404, 409),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const tx = c.get('tx');
      const reach = await orgReach(tx, c.get('principal'), PERMISSION);
      const before = await findInvitation(tx, reach, id);
      if (!before) throw new ApiError('not_found');
      const issued = await resendInvitation(tx, await issueContext(c), id);
      if (!issued) throw new ApiError('conflict', `The invitation is ${before.status}.`);
      const out = shape((await findInvitation(tx, reach, issued.invitationId))!);
      await audit(c, {
        action: 'invitation.resend',
        entityType: 'invitation',
        entityId: out.id,
        before: shape(before),
        after: out,
      });
      deliverAfterCommit(c, [issued.outboxId]);
      return c.json(out, 201);
    },
  );
}

/** POST /v1/invitations/{id}/revoke. */
function registerRevoke(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'revokeInvitation',
      method: 'post',
      path: '/v1/invitations/{id}/revoke',
      tags: ['Invitations'],
      summary: 'Revoke a pending invitation',
      description: 'Its link stops working at once. 409 when it was accepted or revoked already.',
      middleware: guarded(PERMISSION),
      request: { params: IdParam },
      responses: {
        200: { description: 'The revoked invitation', content: json(Invitation) },
        ...problemResponses(400, 401, 403, 404, 409),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const tx = c.get('tx');
      const reach = await orgReach(tx, c.get('principal'), PERMISSION);
      const before = await findInvitation(tx, reach, id);
      if (!before) throw new ApiError('not_found');
      if (!(await revokeInvitation(tx, id)))
        throw new ApiError('conflict', `The invitation is ${before.status}.`);
      const out = shape((await findInvitation(tx, reach, id))!);
      await audit(c, {
        action: 'invitation.revoke',
        entityType: 'invitation',
        entityId: id,
        before: shape(before),
        after: out,
      });
      return c.json(out, 200);
    },
  );
}
