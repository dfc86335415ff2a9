import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import { rowsOf, type Tx } from '../../db/connection.js';
import type { AttendanceStatus } from '../../db/schema/attendance.js';
import * as t from '../../db/schema/tenant.js';
import { mapDbErrors } from '../resources/db-errors.js';
import type { TenantSchema } from '../../db/schema/types.js';

/** One student's mark; an omitted reason or note keeps what is stored, null clears it. */
export interface RecordInput {
  student_id: string;
  status: AttendanceStatus;
  reason?: string | null;
  note?: string | null;
}

/** A batch of marks already checked: the day, the students and the caller's right to it. */
export interface RecordsWrite {
  tenantId: string;
  markedBy: string;
  schoolId: string;
  /** The class the roster was taken for; null for a school-day write. */
  classId: string | null;
  date: string;
  period: string | null;
  /** The school's staff replacing records entered otherwise. */
  override: boolean;
  records: RecordInput[];
}

/**
 * Writes a batch of attendance marks (see the precedence in the route's description): a
 * class roster keeps, and reports as a conflict, a record entered at this school for the
 * school day or through another class with another status, unless it overrides. Returns
 * the counts and conflicts the API answers with, and the statuses before and after of the
 * records written, for the audit row.
 */
export async function upsertRecords(tx: Tx<TenantSchema>, input: RecordsWrite) {
  const { schoolId, classId, date, period } = input;
  const ar = t.attendanceRecords;
  const existing = await tx
    .select({
      studentId: ar.studentId,
      status: ar.status,
      reason: ar.reason,
      note: ar.note,
      schoolId: ar.schoolId,
      classId: ar.classId,
      markedBy: ar.markedBy,
      markedAt: ar.markedAt,
    })
    .from(ar)
    .where(
      and(
        inArray(
          ar.studentId,
          input.records.map((r) => r.student_id),
        ),
        eq(ar.date, date),
        sql`coalesce(${ar.period}, '') = ${period ?? ''}`,
        isNull(ar.deletedAt),
      ),
    )
    .orderBy(ar.studentId)
    .for('update');
  const before = new Map(existing.map((e) => [e.studentId, e]));
  // A class roster does not replace, with another status, a record entered at this school
  // for the school day or through another class: it reports it and keeps it.
  const conflicts = input.records.flatMap((r) => {
    const old = before.get(r.student_id);
    const yields =
      classId !== null &&
      !input.override &&
      old !== undefined &&
      old.status !== r.status &&
      old.schoolId === schoolId &&
      old.classId !== classId;
    return yields
      ? [
          {
            student_id: r.student_id,
            date,
            period,
            status: r.status,
            existing_status: old.status,
            existing_class_id: old.classId,
            existing_marked_by: old.markedBy,
            existing_marked_at: old.markedAt.toISOString(),
          },
        ]
      : [];
  });
  const kept = new Set(conflicts.map((x) => x.student_id));
  // Omitted reason/note keep what is stored; null clears it. Rows go in student order so
  // that concurrent batches lock the same rows in the same order.
  const sorted = input.records
    .filter((r) => !kept.has(r.student_id))
    .sort((a, b) => (a.student_id < b.student_id ? -1 : 1));
  const rows = sorted.map((r) => {
    const old = before.get(r.student_id);
    return {
      student_id: r.student_id,
      status: r.status,
      reason: r.reason === undefined ? (old?.reason ?? null) : r.reason,
      note: r.note === undefined ? (old?.note ?? null) : r.note,
    };
  });

  const written = rowsOf<{ student_id: string; inserted: boolean }>(
    await mapDbErrors(() =>
      tx.execute(sql`
        insert into attendance_records
          (tenant_id, student_id, school_id, class_id, date, period, status, reason, note,
           marked_by)
        select ${input.tenantId}::uuid, r.student_id, ${schoolId}::uuid,
               ${classId}::uuid, ${date}::date, ${period}::text, r.status, r.reason,
               r.note, ${input.markedBy}::uuid
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
          as r(student_id uuid, status text, reason text, note text)
        on conflict (tenant_id, student_id, date, (coalesce(period, '')))
          where deleted_at is null
        do update set status = excluded.status, reason = excluded.reason,
          note = excluded.note, class_id = excluded.class_id,
          school_id = excluded.school_id, marked_by = excluded.marked_by, marked_at = now()
        -- A record filed at another school moves to the one the student is enrolled at.
        where (attendance_records.status, attendance_records.reason, attendance_records.note,
               attendance_records.school_id)
          is distinct from (excluded.status, excluded.reason, excluded.note, excluded.school_id)
        returning student_id::text, (xmax = 0) as inserted`),
    ),
  );
  const inserted = written.filter((w) => w.inserted).length;
  const statusOf = new Map(rows.map((r) => [r.student_id, r.status]));
  return {
    result: {
      date,
      school_id: schoolId,
      class_id: classId,
      period,
      inserted,
      updated: written.length - inserted,
      unchanged: rows.length - written.length,
      conflicts,
    },
    statusesBefore: Object.fromEntries(
      written
        .filter((w) => !w.inserted)
        .map((w) => [w.student_id, before.get(w.student_id)?.status ?? null]),
    ),
    statusesAfter: Object.fromEntries(
      written.map((w) => [w.student_id, statusOf.get(w.student_id)]),
    ),
  };
}
