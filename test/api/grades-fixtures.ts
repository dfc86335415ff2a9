import type pg from 'pg';
import type { Staff } from '../support/staff.js';

/**
 * Gradebook rows for the grades API tests, written as superuser straight into the pool
 * branch beside the people and classes of `Staff`.
 */
export class Grades {
  constructor(
    private readonly staff: Staff,
    private readonly tenantId: string,
  ) {}

  private db(): Promise<pg.Client> {
    return this.staff.db();
  }

  private async one(text: string, values: unknown[]): Promise<string> {
    const r = await (await this.db()).query<{ id: string }>(text, values);
    return r.rows[0]!.id;
  }

  /** An assignment of a class (10 points, weight 1 unless given). */
  assignment(
    classId: string,
    row: { due: string; points?: number; weight?: number; title?: string },
  ): Promise<string> {
    return this.one(
      `insert into assignments (tenant_id, class_id, title, category, points_possible, weight, due_date)
       values ($1, $2, $3, 'homework', $4, $5, $6) returning id`,
      [this.tenantId, classId, row.title ?? 'Homework', row.points ?? 10, row.weight ?? 1, row.due],
    );
  }

  score(
    assignmentId: string,
    studentId: string,
    row: { points?: number | null; missing?: boolean; excused?: boolean },
  ): Promise<string> {
    return this.one(
      `insert into scores (tenant_id, assignment_id, student_id, points, is_missing, is_excused)
       values ($1, $2, $3, $4, $5, $6) returning id`,
      [
        this.tenantId,
        assignmentId,
        studentId,
        row.points ?? null,
        row.missing ?? false,
        row.excused ?? false,
      ],
    );
  }

  /** A grading scale, set on the class when given. */
  async scale(
    bands: { letter: string; min_percent: number; points: number }[],
    classId?: string,
  ): Promise<string> {
    const id = await this.one(
      `insert into grading_scales (tenant_id, name, bands) values ($1, $2, $3) returning id`,
      [this.tenantId, `Scale ${Math.random().toString(36).slice(2, 8)}`, JSON.stringify(bands)],
    );
    if (classId)
      await (
        await this.db()
      ).query(`update classes set grading_scale_id = $2 where id = $1`, [classId, id]);
    return id;
  }

  /** Sets the credits of the class's course. */
  async credits(classId: string, credits: number): Promise<void> {
    await (
      await this.db()
    ).query(
      `update courses set credits = $2 where id = (select course_id from classes where id = $1)`,
      [classId, credits],
    );
  }

  async enrollment(classId: string, studentId: string): Promise<string> {
    return this.one(
      `select id from class_enrollments where class_id = $1 and student_id = $2 and deleted_at is null`,
      [classId, studentId],
    );
  }

  async enrollmentRow(id: string): Promise<Record<string, unknown>> {
    const r = await (
      await this.db()
    ).query(
      `select status, exit_date::text, final_percent::float8, final_grade, grade_points::float8,
              credits_attempted::float8, credits_earned::float8
       from class_enrollments where id = $1`,
      [id],
    );
    return r.rows[0];
  }

  async setEnrollment(
    id: string,
    row: {
      status: string;
      gradePoints?: number;
      creditsAttempted?: number;
      finalGrade?: string;
      finalPercent?: number;
    },
  ): Promise<void> {
    await (
      await this.db()
    ).query(
      `update class_enrollments set status = $2, grade_points = $3, credits_attempted = $4,
         final_grade = $5, final_percent = $6, exit_date = case when $2 = 'active' then null else '2026-01-20'::date end
       where id = $1`,
      [
        id,
        row.status,
        row.gradePoints ?? null,
        row.creditsAttempted ?? null,
        row.finalGrade ?? null,
        row.finalPercent ?? null,
      ],
    );
  }

  /** Live scores of an assignment by student. */
  async scoresOf(
    assignmentId: string,
  ): Promise<
    Record<
      string,
      { points: number | null; is_missing: boolean; is_excused: boolean; is_late: boolean }
    >
  > {
    const r = await (
      await this.db()
    ).query(
      `select student_id::text, points::float8, is_missing, is_excused, is_late from scores
       where assignment_id = $1 and deleted_at is null`,
      [assignmentId],
    );
    return Object.fromEntries(r.rows.map(({ student_id, ...rest }) => [student_id, rest]));
  }
}
