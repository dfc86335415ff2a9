import { z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, eq, gte, lt } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import type { AppEnv } from '../../app-env.js';
import { rowScope, withinReach } from '../../auth/scope.js';
import { ApiError } from '../../problems.js';
import { registerResource, type Ctx, type ResourceDef } from '../../resources/crud.js';
import { checkReferences, isSchool } from '../academic/refs.js';

/**
 * Tour slots a school publishes for families to book from its website (public list:
 * GET /v1/public/tours/slots; booking: POST /v1/public/tours with `slot_id`). Staff who
 * work the admissions funnel of a school manage its slots: the leads permissions, within
 * the caller's reach of schools.
 */

const TourSlot = z
  .object({
    id: z.uuid(),
    school_id: z.uuid(),
    starts_at: z.string().describe('UTC, ISO-8601.'),
    duration_minutes: z.number().int(),
    capacity: z.number().int(),
    booked: z.number().int().describe('Seats taken by families.'),
    note: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('TourSlot');

const startsAt = z.iso.datetime({ offset: true }).openapi({ example: '2026-10-02T09:30:00-07:00' });

const TourSlotCreate = z
  .strictObject({
    school_id: z.uuid(),
    starts_at: startsAt,
    duration_minutes: z.number().int().min(5).max(480).optional(),
    capacity: z.number().int().min(1).max(500),
    note: z.string().trim().max(500).nullable().optional(),
  })
  .openapi('TourSlotCreate');

const TourSlotUpdate = TourSlotCreate.omit({ school_id: true }).partial().openapi('TourSlotUpdate');

const TourSlotFilters = z.object({
  school_id: z.uuid().optional(),
  from: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Starts at or after.' }),
  to: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Starts before.' }),
});

const permissions = { read: 'leads.read', write: 'leads.write' };

const scope = (c: Ctx, mode: 'read' | 'write') =>
  rowScope(c.get('tx'), c.get('principal'), permissions[mode], {
    org: (reach) => withinReach(reach, t.tourSlots.schoolId),
  });

/** Column values of a slot from its JSON (a timestamp column takes a Date). */
function valuesOf(input: z.infer<typeof TourSlotUpdate> & { school_id?: string }) {
  return {
    ...(input.school_id !== undefined ? { schoolId: input.school_id } : {}),
    ...(input.starts_at !== undefined ? { startsAt: new Date(input.starts_at) } : {}),
    ...(input.duration_minutes !== undefined ? { durationMinutes: input.duration_minutes } : {}),
    ...(input.capacity !== undefined ? { capacity: input.capacity } : {}),
    ...(input.note !== undefined ? { note: input.note } : {}),
  };
}

export const tourSlotResource: ResourceDef<
  typeof TourSlotCreate,
  typeof TourSlotUpdate,
  typeof TourSlotFilters
> = {
  entity: 'tour_slot',
  path: '/v1/tour-slots',
  tag: 'Admissions',
  plural: 'tour slots',
  table: t.tourSlots,
  permissions,
  schemas: {
    out: TourSlot,
    create: TourSlotCreate,
    update: TourSlotUpdate,
    filters: TourSlotFilters,
  },
  scope,
  order: { column: t.tourSlots.startsAt, direction: 'asc' },
  filters: (q) => [
    q.school_id ? eq(t.tourSlots.schoolId, q.school_id) : undefined,
    q.from ? gte(t.tourSlots.startsAt, new Date(q.from)) : undefined,
    q.to ? lt(t.tourSlots.startsAt, new Date(q.to)) : undefined,
  ],
  prepareCreate: async (c, input) => {
    // A school the caller may write admissions for; anything else reads as no such school.
    const reach = await rowScope(c.get('tx'), c.get('principal'), permissions.write, {
      org: (r) => withinReach(r, t.orgUnits.id),
    });
    await checkReferences(c, [
      {
        field: 'school_id',
        what: 'school',
        table: t.orgUnits,
        id: input.school_id,
        scope: and(isSchool(), reach),
      },
    ]);
    return valuesOf(input);
  },
  prepareUpdate: async (_c, input, before) => {
    if (input.capacity !== undefined && input.capacity < Number(before.booked)) {
      throw new ApiError('unprocessable', 'Families have booked more seats than that.', {
        invalidParams: [
          { name: 'json.capacity', reason: `must be at least the ${before.booked} seats booked` },
        ],
      });
    }
    return valuesOf(input);
  },
  beforeDelete: async (_c, row) => {
    if (Number(row.booked) > 0) {
      throw new ApiError(
        'conflict',
        'Families have booked this tour; tell them before removing it.',
      );
    }
  },
  descriptions: {
    list: 'Tour slots of the schools within the caller’s reach, by start time.',
    create:
      'Publishes a tour of a school within the caller’s reach. Open slots (future, with seats left) are listed on the school’s website (`GET /v1/public/tours/slots`).',
    update: 'Capacity cannot drop below the seats already booked (422).',
    delete: 'Soft delete; a slot families have booked answers 409.',
  },
};

export function registerTourSlots(app: OpenAPIHono<AppEnv>): void {
  registerResource(app, tourSlotResource);
}
