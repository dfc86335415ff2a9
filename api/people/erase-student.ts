import { sql, type SQL } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import type { TenantSchema } from '../../db/schema/types.js';

/**
 * Erases a student's personal data: the student is anonymised, and so are their guardians
 * who have no other live child; links to guardians go; the sign-in accounts of those
 * erased are disabled and their sessions revoked. Statuses, points and amounts stay, so
 * aggregates do not change. Returns ids and counts only, for the audit row.
 */
export async function eraseStudent(tx: Tx<TenantSchema>, id: string) {
  const count = async (q: SQL) => rowsOf<{ id: string }>(await tx.execute(q)).length;

  // Guardians whose only live child is this student lose their personal data too.
  const lone = rowsOf<{ id: string; user_id: string | null }>(
    await tx.execute(sql`
      select g.id::text, g.user_id::text from guardians g
      where g.deleted_at is null
        and exists (select 1 from student_guardians sg where sg.deleted_at is null
                      and sg.guardian_id = g.id and sg.student_id = ${id}::uuid)
        and not exists (select 1 from student_guardians sg where sg.deleted_at is null
                          and sg.guardian_id = g.id and sg.student_id <> ${id}::uuid)`),
  );
  const removedLinks = await count(sql`
    update student_guardians set deleted_at = now()
    where deleted_at is null and student_id = ${id}::uuid returning id`);
  const [row] = rowsOf<{ user_id: string | null }>(
    await tx.execute(sql`
      update students set first_name = 'Erased', last_name = 'Erased', middle_name = null,
        preferred_name = null, date_of_birth = null, gender = null, iep = false,
        section_504 = false, student_number = 'erased-' || id::text
      where id = ${id}::uuid returning user_id::text`),
  );
  const guardianIds = lone.map((g) => g.id);
  if (guardianIds.length) {
    await tx.execute(sql`
      update guardians set first_name = 'Erased', last_name = 'Erased', email = null,
        phone = null, address = null
      where id in (${sql.join(
        guardianIds.map((g) => sql`${g}::uuid`),
        sql`, `,
      )})`);
  }
  const userIds = [row?.user_id, ...lone.map((g) => g.user_id)].filter((u): u is string => !!u);
  for (const userId of userIds) {
    await tx.execute(sql`
      update users set first_name = 'Erased', last_name = 'Erased', phone = null,
        email = 'erased-' || id::text || '@erased.invalid', password_hash = null,
        status = 'disabled'
      where id = ${userId}::uuid`);
    await tx.execute(sql`
      update refresh_tokens set revoked_at = now()
      where user_id = ${userId}::uuid and revoked_at is null`);
  }
  // Free text about the student goes; statuses, points and amounts stay.
  await tx.execute(sql`
    update attendance_records set reason = null, note = null
    where student_id = ${id}::uuid and (reason is not null or note is not null)`);
  await tx.execute(sql`
    update scores set comment = null where student_id = ${id}::uuid and comment is not null`);
  await tx.execute(sql`
    update leads set guardian_name = 'Erased', email = 'erased-' || id::text || '@erased.invalid',
      phone = null, student_first_name = null, message = null
    where converted_student_id = ${id}::uuid`);

  return { guardianIds, removedLinks, userIds };
}
