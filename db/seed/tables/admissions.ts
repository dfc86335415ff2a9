import type { TableSource } from '../copy.js';
import { gradeLabel, leadContext, linkConversions, simulateLead } from '../leads.js';
import { IdSequence } from '../random.js';
import { GRADE_LABELS, Table } from '../world/model.js';
import type { TableContext } from './context.js';

/**
 * Admissions: leads, their stage history and touchpoints. Each table replays the same
 * per-lead simulation (db/seed/leads.ts), so no table holds another's rows in memory.
 */

/** When a converted lead became a student record: when it reached enrolled (its last move). */
const convertedMs = (l: { enrolledMs: number | null; updatedMs: number }) =>
  l.enrolledMs ?? l.updatedMs;

function leads(t: TableContext): TableSource {
  const { world, ts } = t;
  const { schools, students } = world;
  const ctx = leadContext(world);
  const leadIds = world.ids(Table.lead, world.preset.leads);
  let conversions: Map<number, number> | null = null;
  return {
    table: 'leads',
    columns: [
      'id',
      'guardian_name',
      'email',
      'phone',
      'student_first_name',
      'grade_interest',
      'school_id',
      'stage',
      'score',
      'owner_user_id',
      'lost_reason',
      'lost_at',
      'converted_student_id',
      'converted_at',
      'consent',
      'message',
      'source',
      'first_touch_at',
      'created_at',
      'updated_at',
    ],
    *rows() {
      conversions ??= linkConversions(world, ctx);
      for (let i = 0; i < world.preset.leads; i++) {
        const l = simulateLead(world, ctx, i);
        const converted = conversions.get(i);
        const student = converted === undefined ? null : students[converted]!;
        const first = ts(l.firstMs);
        const grade = student
          ? GRADE_LABELS[
              (student.enroll.find((e) => e?.isNew) ?? student.enroll[1] ?? student.enroll[0])!
                .grade
            ]!
          : gradeLabel(l.grade);
        yield [
          leadIds.at(i),
          l.guardianName,
          l.email,
          l.phone,
          student ? student.firstName : l.studentFirstName,
          grade,
          schools[l.schoolIdx]!.id,
          l.stage,
          l.score,
          null,
          l.lostReason,
          l.lostMs === null ? null : ts(l.lostMs),
          student ? student.id : null,
          student ? ts(convertedMs(l)) : null,
          l.consent,
          l.message,
          l.source,
          first,
          first,
          ts(l.updatedMs),
        ];
      }
    },
  };
}

function leadStageHistory(t: TableContext): TableSource {
  const { world, ts } = t;
  const ctx = leadContext(world);
  const leadIds = world.ids(Table.lead, world.preset.leads);
  return {
    table: 'lead_stage_history',
    columns: [
      'id',
      'lead_id',
      'from_stage',
      'to_stage',
      'changed_by',
      'changed_at',
      'note',
      'created_at',
    ],
    *rows() {
      const ids = new IdSequence(world.ids(Table.stageHistory, world.preset.leads * 4));
      for (let i = 0; i < world.preset.leads; i++) {
        const l = simulateLead(world, ctx, i);
        const lead = leadIds.at(i);
        for (const m of l.moves) {
          const at = ts(m.ms);
          const note =
            m.to === 'lost'
              ? l.lostReason
              : m.from === 'inquiry' && m.to === 'application_started'
                ? 'Applied without a tour'
                : null;
          yield [ids.next(), lead, m.from, m.to, null, at, note, at];
        }
      }
    },
  };
}

function leadTouchpoints(t: TableContext): TableSource {
  const { world, ts } = t;
  const ctx = leadContext(world);
  const leadIds = world.ids(Table.lead, world.preset.leads);
  return {
    table: 'lead_touchpoints',
    columns: [
      'id',
      'lead_id',
      'kind',
      'channel',
      'utm_source',
      'utm_medium',
      'utm_campaign',
      'utm_term',
      'utm_content',
      'referrer',
      'landing_page',
      'details',
      'occurred_at',
      'created_at',
    ],
    *rows() {
      const ids = new IdSequence(world.ids(Table.touchpoint, world.preset.leads * 5));
      for (let i = 0; i < world.preset.leads; i++) {
        const l = simulateLead(world, ctx, i);
        const lead = leadIds.at(i);
        for (const t of l.touches) {
          const at = ts(t.ms);
          yield [
            ids.next(),
            lead,
            t.kind,
            t.channel,
            t.utmSource,
            t.utmMedium,
            t.utmCampaign,
            t.utmTerm,
            t.utmContent,
            t.referrer,
            t.landingPage,
            t.details,
            at,
            at,
          ];
        }
      }
    },
  };
}

/** The admissions tables, in foreign-key order. */
export function admissionsTables(t: TableContext): TableSource[] {
  return [leads(t), leadStageHistory(t), leadTouchpoints(t)];
}
