import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, inArray, isNull, or, sql } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import type { Principal } from '../../auth/principal.js';
import { accountStatement, statementPart, statementParts } from '../../finance/statement.js';
import { ApiError } from '../../problems.js';
import {
  guarded,
  loadScoped,
  registerResource,
  type Ctx,
  type ResourceDef,
  type Row,
  idParam,
} from '../../resources/crud.js';
import { mapDbErrors } from '../../resources/db-errors.js';
import { scoped } from '../../resources/scopes.js';
import { problemResponses } from '../openapi.js';
import { accountRules } from '../../finance/scope.js';

export const financePermissions = { read: 'finance.read', write: 'finance.write' };

const Account = z
  .object({
    id: z.uuid(),
    account_number: z.string(),
    name: z.string(),
    primary_guardian_id: z.uuid().nullable(),
    school_id: z.uuid().nullable(),
    status: z.enum(['active', 'closed']),
    guardian_ids: z.array(z.uuid()).describe('Guardians who may see and pay the account.'),
    balance_cents: z
      .number()
      .int()
      .describe(
        'Owed on issued invoices (void ones excluded) minus unapplied credit; of the caller’s schools’ invoices only when `whole_account` is false.',
      ),
    credit_cents: z
      .number()
      .int()
      .describe('Unapplied payments: the account’s credit (0 when `whole_account` is false).'),
    whole_account: z
      .boolean()
      .describe(
        'False when the caller reaches only some of the family’s schools: the balance is then their schools’ part, as on the statement.',
      ),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('BillingAccount');

const AccountCreate = z
  .object({
    account_number: z.string().trim().min(1).max(32).optional().openapi({
      description: 'Unique in the tenant; generated when omitted.',
    }),
    name: z.string().trim().min(1).max(200),
    primary_guardian_id: z.uuid().nullable().optional(),
    school_id: z.uuid().nullable().optional(),
    status: z.enum(['active', 'closed']).optional(),
    guardian_ids: z
      .array(z.uuid())
      .max(20)
      .optional()
      .openapi({ description: 'Further guardians on the account (the primary one is added).' }),
  })
  .openapi('BillingAccountCreate');

const AccountUpdate = AccountCreate.partial()
  .extend({
    guardian_ids: z
      .array(z.uuid())
      .max(20)
      .optional()
      .openapi({ description: 'Replaces the account’s guardians (the primary one is kept).' }),
  })
  .openapi('BillingAccountUpdate');

const AccountFilters = z.object({
  status: z.enum(['active', 'closed']).optional(),
  school_id: z.uuid().optional(),
});

export const accountScope = scoped(financePermissions, accountRules(t.billingAccounts.id));

/** Links the guardians to the account, keeping the existing links. */
async function linkGuardians(c: Ctx, accountId: string, guardianIds: string[]): Promise<void> {
  const wanted = [...new Set(guardianIds)];
  if (wanted.length === 0) return;
  const tx = c.get('tx');
  const existing = await tx
    .select({ guardianId: t.billingAccountGuardians.guardianId })
    .from(t.billingAccountGuardians)
    .where(
      and(
        eq(t.billingAccountGuardians.accountId, accountId),
        isNull(t.billingAccountGuardians.deletedAt),
      ),
    );
  const have = new Set(existing.map((e) => e.guardianId));
  const missing = wanted.filter((g) => !have.has(g));
  if (missing.length === 0) return;
  await mapDbErrors(() =>
    tx.insert(t.billingAccountGuardians).values(
      missing.map((guardianId) => ({
        tenantId: c.get('tenant').id,
        accountId,
        guardianId,
      })),
    ),
  );
}

interface AccountFigures {
  guardianIds: string[];
  owed: number;
  credit: number;
  /** False when the figures are the caller's schools' part of the family's ledger. */
  whole: boolean;
}

/**
 * Balances, credit and guardians of accounts, by account id. `seenBy`: the figures of the
 * part of each ledger the caller sees, as their statement shows it (a school's staff on a
 * family with children at other schools: their schools' invoices, no credit); without it,
 * the whole account's.
 */
async function accountFigures(c: Ctx, ids: string[], seenBy?: Principal) {
  const tx = c.get('tx');
  const out = new Map<string, AccountFigures>();
  for (const id of ids) out.set(id, { guardianIds: [], owed: 0, credit: 0, whole: true });
  if (ids.length === 0) return out;
  const { whole, part } = seenBy
    ? await statementParts(tx, seenBy, ids)
    : { whole: new Set(ids), part: sql`true` };
  for (const [id, f] of out) f.whole = whole.has(id);
  const wholeIds = ids.filter((id) => whole.has(id));
  const links = await tx
    .select({
      accountId: t.billingAccountGuardians.accountId,
      g: t.billingAccountGuardians.guardianId,
    })
    .from(t.billingAccountGuardians)
    .where(
      and(
        inArray(t.billingAccountGuardians.accountId, ids),
        isNull(t.billingAccountGuardians.deletedAt),
      ),
    )
    .orderBy(t.billingAccountGuardians.createdAt, t.billingAccountGuardians.id);
  for (const l of links) out.get(l.accountId)!.guardianIds.push(l.g);
  const owed = await tx
    .select({
      accountId: t.invoices.accountId,
      cents: sql<string>`coalesce(sum(${t.invoices.balanceCents}), 0)::text`,
    })
    .from(t.invoices)
    .where(
      and(
        inArray(t.invoices.accountId, ids),
        isNull(t.invoices.deletedAt),
        inArray(t.invoices.status, ['open', 'paid', 'uncollectible']),
        wholeIds.length === ids.length
          ? undefined
          : or(wholeIds.length ? inArray(t.invoices.accountId, wholeIds) : undefined, part),
      ),
    )
    .groupBy(t.invoices.accountId);
  for (const o of owed) out.get(o.accountId)!.owed = Number(o.cents);
  // A part shows no credit: the family's unapplied payments are not any one school's.
  if (wholeIds.length === 0) return out;
  const credit = await tx
    .select({
      accountId: t.payments.accountId,
      cents: sql<string>`coalesce(sum(${t.payments.unappliedCents}), 0)::text`,
    })
    .from(t.payments)
    .where(
      and(
        inArray(t.payments.accountId, wholeIds),
        isNull(t.payments.deletedAt),
        eq(t.payments.status, 'succeeded'),
      ),
    )
    .groupBy(t.payments.accountId);
  for (const p of credit) out.get(p.accountId)!.credit = Number(p.cents);
  return out;
}

const generatedNumber = () => `A-${crypto.randomUUID().slice(0, 8).toUpperCase()}`;

export const accountResource: ResourceDef<
  typeof AccountCreate,
  typeof AccountUpdate,
  typeof AccountFilters
> = {
  entity: 'billing_account',
  path: '/v1/accounts',
  tag: 'Finance',
  plural: 'billing accounts',
  table: t.billingAccounts,
  permissions: financePermissions,
  schemas: { out: Account, create: AccountCreate, update: AccountUpdate, filters: AccountFilters },
  scope: accountScope,
  order: { column: t.billingAccounts.accountNumber, direction: 'asc' },
  operations: ['list', 'read', 'create', 'update'],
  filters: (q) => [
    q.status ? eq(t.billingAccounts.status, q.status) : undefined,
    q.school_id ? eq(t.billingAccounts.schoolId, q.school_id) : undefined,
  ],
  prepareCreate: async (c, input) => {
    return {
      accountNumber: input.account_number ?? generatedNumber(),
      name: input.name,
      primaryGuardianId: input.primary_guardian_id ?? null,
      schoolId: input.school_id ?? null,
      status: input.status ?? 'active',
    };
  },
  afterCreate: async (c, row, input) => {
    const primary = input.primary_guardian_id ? [input.primary_guardian_id] : [];
    await linkGuardians(c, String(row.id), [...primary, ...(input.guardian_ids ?? [])]);
  },
  prepareUpdate: async (c, input, before) => {
    if (input.status === 'closed' && before.status !== 'closed') {
      const f = (await accountFigures(c, [String(before.id)])).get(String(before.id))!;
      if (f.owed !== 0 || f.credit !== 0)
        throw new ApiError(
          'conflict',
          `The account still has ${f.owed} cents owed and ${f.credit} cents of credit; settle it before closing.`,
        );
    }
    const values: Row = {};
    if (input.account_number !== undefined) values.accountNumber = input.account_number;
    if (input.name !== undefined) values.name = input.name;
    if (input.primary_guardian_id !== undefined)
      values.primaryGuardianId = input.primary_guardian_id;
    if (input.school_id !== undefined) values.schoolId = input.school_id;
    if (input.status !== undefined) values.status = input.status;
    const id = String(before.id);
    const primary =
      input.primary_guardian_id !== undefined
        ? input.primary_guardian_id
        : (before.primaryGuardianId as string | null);
    if (input.guardian_ids !== undefined) {
      const keep = new Set([...input.guardian_ids, ...(primary ? [primary] : [])]);
      const tx = c.get('tx');
      const links = await tx
        .select({ id: t.billingAccountGuardians.id, g: t.billingAccountGuardians.guardianId })
        .from(t.billingAccountGuardians)
        .where(
          and(
            eq(t.billingAccountGuardians.accountId, id),
            isNull(t.billingAccountGuardians.deletedAt),
          ),
        );
      const drop = links.filter((l) => !keep.has(l.g)).map((l) => l.id);
      if (drop.length > 0)
        await tx
          .update(t.billingAccountGuardians)
          .set({ deletedAt: new Date() })
          .where(inArray(t.billingAccountGuardians.id, drop));
      await linkGuardians(c, id, [...keep]);
      const had = links.map((l) => l.g).sort();
      const has = [...keep].sort();
      if (JSON.stringify(had) !== JSON.stringify(has)) {
        // The framework audits column changes; the guardian set is recorded here.
        await audit(c, {
          action: 'billing_account.guardians_replace',
          entityType: 'billing_account',
          entityId: id,
          before: { guardian_ids: had },
          after: { guardian_ids: has },
        });
        values.updatedAt = new Date();
      }
    } else if (input.primary_guardian_id) {
      await linkGuardians(c, id, [input.primary_guardian_id]);
    }
    return values;
  },
  decorate: async (c, rows) => {
    const figures = await accountFigures(
      c,
      rows.map((r) => String(r.id)),
      c.get('principal'),
    );
    return rows.map((r) => {
      const f = figures.get(String(r.id))!;
      return {
        ...r,
        guardianIds: f.guardianIds,
        balanceCents: f.owed - f.credit,
        creditCents: f.credit,
        wholeAccount: f.whole,
      };
    });
  },
  descriptions: {
    list: 'Accounts within the caller’s scope: a parent’s own family account(s); for school staff the accounts of their school(s) or with a child at one; every account for tenant-wide roles. `balance_cents` is what is owed on issued invoices (void ones excluded) minus unapplied credit. Staff who reach only some of a family’s schools see their schools’ part (`whole_account: false`): what is owed on their schools’ invoices, no credit — as on the statement.',
    create:
      'The account number is unique in the tenant (409); unknown guardians or schools answer 422. Staff scoped to a school may create accounts of their school only.',
    update:
      '`guardian_ids` replaces the set of guardians on the account. An account with money owed or credit cannot be closed (409).',
  },
};

const StatementQuery = z.object({
  from: z.iso.date().optional().openapi({ description: 'First day (default: the beginning).' }),
  to: z.iso.date().optional().openapi({ description: 'Last day (default: today).' }),
});

const StatementEntry = z.object({
  date: z.string(),
  kind: z.enum(['invoice', 'void', 'payment']),
  invoice_id: z.uuid().nullable(),
  payment_id: z.uuid().nullable(),
  reference: z.string().nullable().describe('Invoice number or payment reference.'),
  amount_cents: z.number().int().describe('Charges positive, payments and voids negative.'),
  balance_cents: z.number().int().describe('Running balance after this entry.'),
});

const Statement = z
  .object({
    account_id: z.uuid(),
    from: z.string().nullable(),
    to: z.string(),
    currency: z.string(),
    opening_balance_cents: z.number().int(),
    entries: z.array(StatementEntry),
    invoices: z.array(
      z.object({
        id: z.uuid(),
        number: z.string(),
        status: z.string(),
        issue_date: z.string().nullable(),
        due_date: z.string().nullable(),
        total_cents: z.number().int(),
        amount_paid_cents: z.number().int(),
        balance_cents: z.number().int(),
      }),
    ),
    payments: z.array(
      z.object({
        id: z.uuid(),
        received_on: z.string(),
        method: z.string(),
        amount_cents: z.number().int(),
        unapplied_cents: z.number().int(),
        allocations: z.array(z.object({ invoice_id: z.uuid(), amount_cents: z.number().int() })),
      }),
    ),
    credit_cents: z
      .number()
      .int()
      .describe('Unapplied credit now, of the payments received up to `to` (0 in a part).'),
    closing_balance_cents: z.number().int(),
    whole_account: z
      .boolean()
      .describe(
        'False when the caller reaches only some of the family’s schools: the statement is then their schools’ part — their invoices, and of each payment what was allocated to them; the family’s credit is not shown.',
      ),
  })
  .openapi('AccountStatement');

const IdParam = idParam('Account');

export function registerAccounts(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, accountResource);
  app.openapi(
    createRoute({
      operationId: 'getAccountStatement',
      method: 'get',
      path: '/v1/accounts/{id}/statement',
      tags: ['Finance'],
      summary: 'A family account’s statement',
      description:
        'Opening balance, the invoices issued, voided and the payments received in the range (dates in the school’s time zone), with allocations and credit, and the closing balance. Staff who reach only some of a family’s schools get their schools’ part (`whole_account: false`): their invoices, and of each payment the amount allocated to them.',
      middleware: guarded(financePermissions.read),
      request: { params: IdParam, query: StatementQuery },
      responses: {
        200: {
          description: 'The statement',
          content: { 'application/json': { schema: Statement } },
        },
        ...problemResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const q = c.req.valid('query');
      const account = await loadScoped(c, accountResource, id, 'read');
      const tx = c.get('tx');
      // Dates zod accepts but PostgreSQL does not (year 0) answer 400, not 500.
      const body = await mapDbErrors(async () =>
        accountStatement(tx, {
          accountId: id,
          schoolId: (account.schoolId as string | null) ?? null,
          tenantTimezone: c.get('tenant').timezone,
          from: q.from ?? null,
          to: q.to ?? null,
          part: await statementPart(tx, c.get('principal'), id),
        }),
      );
      return c.json(body, 200);
    },
  );
}
