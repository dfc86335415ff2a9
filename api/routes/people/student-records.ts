import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { sql, type SQL } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import { rowsOf } from '../../../db/connection.js';
import type { AppEnv } from '../../app-env.js';
import { audit } from '../../audit.js';
import { rowScope, studentRules } from '../../auth/scope.js';
import { eraseStudent } from '../../people/erase-student.js';
import { guarded, loadScoped, present, type Ctx } from '../../resources/crud.js';
import { logRecordAccess } from '../../resources/record-access.js';
import { invoiceRules } from '../../finance/scope.js';
import { problemResponses } from '../openapi.js';
import { studentResource } from './students.js';

/**
 * FERPA/GDPR per-student export and erasure
 * (docs/tenancy-and-security.md#audit-and-the-ferpa-access-log). Both reach the student through the
 * same relationship scope as reads, for their own permission.
 */

const StudentParam = z.object({
  id: z.uuid().openapi({ param: { name: 'id', in: 'path' }, description: 'Student id.' }),
});

const section = z.array(z.record(z.string(), z.unknown()));
const Export = z
  .object({
    exported_at: z.string(),
    student: z.record(z.string(), z.unknown()),
    guardians: section,
    guardian_links: section,
    school_enrollments: section,
    class_enrollments: section,
    attendance: section,
    scores: section,
    billing_accounts: section,
    invoices: section,
    esa_applications: section,
  })
  .openapi('StudentExport');

const Erasure = z
  .object({
    student_id: z.uuid(),
    erased_guardians: z.number().int(),
    removed_links: z.number().int(),
  })
  .openapi('StudentErasure');

const scopeFor = (permission: string) => ({
  table: t.students,
  scope: (c: Ctx) =>
    rowScope(
      c.get('tx'),
      c.get('principal'),
      permission,
      studentRules(t.students.id, t.students.schoolId),
    ),
});

/** Rows of a query as JSON objects in snake_case, without tenant ids or writer xids. */
async function rows(c: Ctx, query: SQL): Promise<Record<string, unknown>[]> {
  const r = rowsOf<{ rows: Record<string, unknown>[] | null }>(
    await c.get('tx').execute(sql`
      select coalesce(jsonb_agg(to_jsonb(x) - 'tenant_id' - 'changed_xid' - 'deleted_at'
                                order by x.created_at, x.id), '[]'::jsonb) as rows
      from (${query}) x`),
  );
  return r[0]?.rows ?? [];
}

/** The student's family accounts: linked to a guardian of theirs, or billed for them. */
const accountsOf = (id: string) => sql`(
  select bag.account_id from billing_account_guardians bag
  join student_guardians sg on sg.tenant_id = bag.tenant_id and sg.guardian_id = bag.guardian_id
  where bag.deleted_at is null and sg.deleted_at is null and sg.student_id = ${id}::uuid
  union
  select i.account_id from invoices i where i.deleted_at is null and i.student_id = ${id}::uuid)`;

export function registerStudentRecords(app: OpenAPIHono<AppEnv>): void {
  app.openapi(
    createRoute({
      operationId: 'exportStudentRecord',
      method: 'get',
      path: '/v1/students/{id}/export',
      tags: ['Students'],
      summary: 'Export everything held about a student',
      description:
        'FERPA/GDPR export: the record, guardians and links, school and class enrollments, attendance, scores, the family accounts and their invoices, ESA applications. Recorded in the record-access log.',
      middleware: guarded('students.export'),
      request: { params: StudentParam },
      responses: {
        200: { description: 'The export', content: { 'application/json': { schema: Export } } },
        ...problemResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const student = await loadScoped(c, scopeFor('students.export'), id, 'read');
      const live = sql.raw('deleted_at is null');
      const body = {
        exported_at: new Date().toISOString(),
        student: present(studentResource, student),
        guardians: await rows(
          c,
          sql`select g.* from guardians g where g.deleted_at is null and g.id in (
                select guardian_id from student_guardians where ${live} and student_id = ${id}::uuid)`,
        ),
        guardian_links: await rows(
          c,
          sql`select * from student_guardians where ${live} and student_id = ${id}::uuid`,
        ),
        school_enrollments: await rows(
          c,
          sql`select * from school_enrollments where ${live} and student_id = ${id}::uuid`,
        ),
        class_enrollments: await rows(
          c,
          sql`select * from class_enrollments where ${live} and student_id = ${id}::uuid`,
        ),
        attendance: await rows(
          c,
          sql`select * from attendance_records where ${live} and student_id = ${id}::uuid`,
        ),
        scores: await rows(c, sql`select * from scores where ${live} and student_id = ${id}::uuid`),
        billing_accounts: await rows(
          c,
          sql`select * from billing_accounts where ${live} and id in ${accountsOf(id)}`,
        ),
        // Of a family shared with another school, that school's invoices are not the
        // caller's to export (a school's staff reach their own students' invoices).
        invoices: await rows(
          c,
          sql`select * from invoices where ${live} and account_id in ${accountsOf(id)} and ${
            (await rowScope(c.get('tx'), c.get('principal'), 'students.export', invoiceRules)) ??
            sql`true`
          }`,
        ),
        esa_applications: await rows(
          c,
          sql`select * from esa_applications where ${live} and student_id = ${id}::uuid`,
        ),
      };
      await logRecordAccess(c, [id], 'export');
      await audit(c, { action: 'student.export', entityType: 'student', entityId: id });
      return c.json(body, 200);
    },
  );

  app.openapi(
    createRoute({
      operationId: 'eraseStudent',
      method: 'post',
      path: '/v1/students/{id}/erase',
      tags: ['Students'],
      summary: 'Erase a student’s personal data',
      description:
        'Anonymises the student (names become `Erased`, date of birth and other personal fields are cleared, the sign-in account is disabled) and their guardians who have no other children; unlinks guardians. Attendance statuses, scores and invoice amounts stay, so aggregates do not change. Audited without the erased values.',
      middleware: guarded('students.erase'),
      request: { params: StudentParam },
      responses: {
        200: { description: 'Erased', content: { 'application/json': { schema: Erasure } } },
        ...problemResponses(400, 401, 403, 404),
      },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      await loadScoped(c, scopeFor('students.erase'), id, 'write', { lock: true });
      const { guardianIds, removedLinks, userIds } = await eraseStudent(c.get('tx'), id);
      await logRecordAccess(c, [id], 'erase');
      const result = {
        student_id: id,
        erased_guardians: guardianIds.length,
        removed_links: removedLinks,
      };
      // Ids and counts only: copying the erased values here would defeat the erasure.
      await audit(c, {
        action: 'student.erase',
        entityType: 'student',
        entityId: id,
        after: { ...result, guardian_ids: guardianIds, user_ids: userIds },
      });
      return c.json(result, 200);
    },
  );
}
