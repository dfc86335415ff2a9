import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { and, asc, eq, inArray, isNull } from 'drizzle-orm';
import * as t from '../../../db/schema/tenant.js';
import type { Context } from 'hono';
import type { AppEnv } from '../../app-env.js';
import { problemResponses } from '../openapi.js';

const School = z
  .object({
    id: z.uuid(),
    name: z.string(),
    kind: z.enum(t.SCHOOL_KINDS),
    grade_levels: z.array(z.string()),
    enrollment_open: z.boolean(),
    timezone: z.string().nullable(),
    phone: z.string().nullable(),
    website: z.string().nullable(),
  })
  .openapi('PublicSchool');

const Profile = z
  .object({
    name: z.string(),
    branding: z.object({
      logo_url: z.string().nullable(),
      primary_color: z.string().nullable(),
      secondary_color: z.string().nullable(),
    }),
    school: School.nullable().describe(
      'The school this site belongs to, on a school’s own domain.',
    ),
    schools: z.array(School),
    grades_offered: z.array(z.string()),
    enrollment_open: z.boolean(),
  })
  .openapi('PublicProfile');

const route = createRoute({
  operationId: 'getPublicProfile',
  method: 'get',
  path: '/v1/public/profile',
  tags: ['Public'],
  summary: 'School or network profile for a public website',
  security: [],
  // A page view reads this; lead capture is the scarcer resource, so reads get more room.
  responses: {
    200: { description: 'The profile', content: { 'application/json': { schema: Profile } } },
    ...problemResponses(404, 403, 429),
  },
});

const GRADE_ORDER = ['PK', 'K', ...Array.from({ length: 12 }, (_, i) => String(i + 1))];
const byGrade = (a: string, b: string) => {
  const ia = GRADE_ORDER.indexOf(a);
  const ib = GRADE_ORDER.indexOf(b);
  return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
};

export type PublicSchool = z.infer<typeof School>;

/**
 * The schools a public site shows: on a school's own site that school, else every active
 * school of the tenant (by name).
 */
export async function publicSchools(
  c: Context<AppEnv>,
): Promise<{ school: PublicSchool | null; schools: PublicSchool[] }> {
  const tenant = c.get('tenant');
  const rows = await c
    .get('tx')
    .select()
    .from(t.orgUnits)
    .where(
      and(
        inArray(t.orgUnits.kind, [...t.SCHOOL_KINDS]),
        eq(t.orgUnits.status, 'active'),
        isNull(t.orgUnits.deletedAt),
      ),
    )
    .orderBy(asc(t.orgUnits.name));
  const all = rows.map((o) => ({
    id: o.id,
    name: o.name,
    kind: o.kind as 'school' | 'microschool' | 'campus',
    grade_levels: [...o.gradeLevels].sort(byGrade),
    enrollment_open: o.enrollmentOpen,
    timezone: o.timezone,
    phone: o.phone,
    website: o.website,
  }));
  const school = tenant.siteOrgUnitId
    ? (all.find((s) => s.id === tenant.siteOrgUnitId) ?? null)
    : null;
  return { school, schools: school ? [school] : all };
}

export function registerProfile(app: OpenAPIHono<AppEnv>): void {
  app.openapi(route, async (c) => {
    const tenant = c.get('tenant');
    const { school, schools: listed } = await publicSchools(c);
    return c.json(
      {
        name: tenant.name,
        branding: {
          logo_url: tenant.branding.logoUrl ?? null,
          primary_color: tenant.branding.primaryColor ?? null,
          secondary_color: tenant.branding.secondaryColor ?? null,
        },
        school,
        schools: listed,
        grades_offered: [...new Set(listed.flatMap((s) => s.grade_levels))].sort(byGrade),
        enrollment_open: listed.some((s) => s.enrollment_open),
      },
      200,
    );
  });
}
