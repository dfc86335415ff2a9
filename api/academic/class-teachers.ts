import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { Tx } from '../../db/connection.js';
import * as t from '../../db/schema/tenant.js';
import { mapDbErrors } from '../resources/db-errors.js';
import type { TenantSchema } from '../../db/schema/types.js';

/**
 * Makes a class's teachers the given set: teachers left out are removed (soft delete), new
 * ones added, changed roles changed; a teacher already there in the same role is left as is.
 * The staff ids are to be checked by the caller.
 */
export async function replaceClassTeachers(
  tx: Tx<TenantSchema>,
  input: {
    tenantId: string;
    classId: string;
    teachers: readonly { staff_id: string; role?: string | undefined }[];
  },
): Promise<void> {
  const { tenantId, classId } = input;
  const wanted = new Map(input.teachers.map((x) => [x.staff_id, x.role ?? 'primary']));
  const current = await tx
    .select({
      id: t.classTeachers.id,
      staffId: t.classTeachers.staffId,
      role: t.classTeachers.role,
    })
    .from(t.classTeachers)
    .where(and(eq(t.classTeachers.classId, classId), isNull(t.classTeachers.deletedAt)));
  const gone = current.filter((r) => !wanted.has(r.staffId)).map((r) => r.id);
  if (gone.length)
    await tx
      .update(t.classTeachers)
      .set({ deletedAt: new Date() })
      .where(inArray(t.classTeachers.id, gone));
  const kept = new Map(current.map((r) => [r.staffId, r]));
  for (const [staffId, role] of wanted) {
    const existing = kept.get(staffId);
    if (existing?.role === role) continue;
    await mapDbErrors(() =>
      existing
        ? tx.update(t.classTeachers).set({ role }).where(eq(t.classTeachers.id, existing.id))
        : tx.insert(t.classTeachers).values({ tenantId, classId, staffId, role }),
    );
  }
}
