import { describe, expect, it } from 'vitest';
import { call, type ApiResponse, type ApiTarget } from '../support/api.js';
import { Harness } from '../support/harness.js';
import { bearer, expectProblem } from '../support/staff.js';

/** GET /v1/leads for staff on Node and in workerd: filters, keyset pages, org-reach scoping. */

const RUNTIMES = ['node', 'workerd'] as const;
const ALPHA = 'alpha.test';

const h = await Harness.init('leads_api');
const { staff } = h;

interface Seeded {
  id: string;
  guardian: string;
  email: string;
  school: string | null;
  stage: string;
  source: string | null;
  firstTouch: string;
  created: string;
}
const seeded: Seeded[] = [];

/** Inserts a lead as superuser; `firstTouch` keeps microseconds, as the keyset must. */
async function lead(
  tenantId: string,
  row: Omit<Seeded, 'id' | 'created'> & { created?: string },
): Promise<Seeded> {
  const db = await staff.db();
  const created = row.created ?? row.firstTouch;
  const r = await db.query<{ id: string }>(
    `insert into leads (tenant_id, guardian_name, email, school_id, stage, source, first_touch_at,
                        created_at, lost_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, case when $5 = 'lost' then $7::timestamptz end)
     returning id`,
    [tenantId, row.guardian, row.email, row.school, row.stage, row.source, row.firstTouch, created],
  );
  return { ...row, created, id: r.rows[0]!.id };
}

const { north, south, adminToken } = await h.setup(async () => {
  const a = h.tenants.alpha.id;
  const north = await staff.school(a, 'North Campus');
  const south = await staff.school(a, 'South Campus');
  const rows: Omit<Seeded, 'id' | 'created'>[] = [
    {
      guardian: 'Maria Lopez',
      email: 'maria@fam.test',
      school: north,
      stage: 'inquiry',
      source: 'google',
      firstTouch: '2026-01-05T09:00:00.000001Z',
    },
    {
      guardian: 'Mark Chen',
      email: 'mchen@fam.test',
      school: north,
      stage: 'tour_scheduled',
      source: 'facebook',
      firstTouch: '2026-01-05T09:00:00.000002Z',
    },
    {
      guardian: 'Ana Ruiz',
      email: 'ana@fam.test',
      school: north,
      stage: 'inquiry',
      source: 'google',
      firstTouch: '2026-01-10T12:00:00.123456Z',
    },
    {
      guardian: 'Ben Okafor',
      email: 'ben@fam.test',
      school: south,
      stage: 'inquiry',
      source: null,
      firstTouch: '2026-01-10T12:00:00.123456Z',
    },
    {
      guardian: 'Cara Diaz',
      email: 'cara@fam.test',
      school: south,
      stage: 'lost',
      source: 'google',
      firstTouch: '2026-01-10T12:00:00.123456Z',
    },
    {
      guardian: 'Dev Patel',
      email: 'dev@fam.test',
      school: north,
      stage: 'accepted',
      source: 'referral',
      firstTouch: '2026-01-20T23:30:00Z',
    },
    {
      guardian: 'Eve Nakamura',
      email: 'zed_eve@fam.test',
      school: null,
      stage: 'inquiry',
      source: 'google',
      firstTouch: '2026-01-25T08:00:00Z',
    },
    {
      guardian: '100% Parent',
      email: 'pct@fam.test',
      school: south,
      stage: 'inquiry',
      source: 'google',
      firstTouch: '2026-02-01T08:00:00Z',
    },
  ];
  for (const row of rows) {
    seeded.push(
      await lead(a, { ...row, created: row.firstTouch.replace('2026-01-05', '2025-12-30') }),
    );
  }
  // Another tenant's leads: never listed, whoever asks on alpha's host.
  await lead(h.tenants.beta.id, {
    guardian: 'Maria Beta',
    email: 'maria@beta.test',
    school: null,
    stage: 'inquiry',
    source: 'google',
    firstTouch: '2026-01-15T00:00:00Z',
  });
  const adminToken = await h.admin('alpha');
  return { north, south, adminToken };
});

/** Seeded alpha leads in the API's order: newest first touch first, then id descending. */
const expectedOrder = (rows: Seeded[]) =>
  [...rows]
    .sort((x, y) =>
      x.firstTouch === y.firstTouch ? (x.id < y.id ? 1 : -1) : x.firstTouch < y.firstTouch ? 1 : -1,
    )
    .map((r) => r.id);

for (const runtime of RUNTIMES) {
  describe(`GET /v1/leads on ${runtime}`, () => {
    const target = (): ApiTarget => h.target(runtime);
    const list = (
      query = '',
      token: string | null = adminToken,
      host = ALPHA,
    ): Promise<ApiResponse> =>
      call(target(), 'GET', `/v1/leads${query}`, { host, headers: token ? bearer(token) : {} });
    const ids = (r: ApiResponse) => r.json.data.map((l: { id: string }) => l.id);

    it('lists the tenant’s leads, newest first touch first, in snake_case', async () => {
      const r = await list();
      expect(r.status, r.text).toBe(200);
      expect(ids(r)).toEqual(expectedOrder(seeded));
      expect(r.json.next_cursor).toBeNull();
      const maria = r.json.data.find((l: { email: string }) => l.email === 'maria@fam.test');
      expect(maria).toEqual({
        id: seeded[0]!.id,
        guardian_name: 'Maria Lopez',
        email: 'maria@fam.test',
        phone: null,
        student_first_name: null,
        grade_interest: null,
        school_id: north,
        stage: 'inquiry',
        score: 0,
        owner_user_id: null,
        source: 'google',
        lost_reason: null,
        lost_at: null,
        converted_student_id: null,
        converted_at: null,
        consent: false,
        first_touch_at: '2026-01-05T09:00:00.000Z',
        created_at: '2025-12-30T09:00:00.000Z',
        updated_at: expect.any(String),
      });
      expect(r.text).not.toContain('beta.test');
    });

    it('filters by stage, source, school, dates and a name or email prefix', async () => {
      const match = async (query: string, pick: (s: Seeded) => boolean) => {
        const r = await list(query);
        expect(r.status, r.text).toBe(200);
        expect(ids(r), query).toEqual(expectedOrder(seeded.filter(pick)));
      };
      await match('?stage=inquiry', (s) => s.stage === 'inquiry');
      await match('?stage=lost', (s) => s.stage === 'lost');
      await match('?source=google', (s) => s.source === 'google');
      await match(`?school_id=${south}`, (s) => s.school === south);
      await match(
        `?school_id=${north}&stage=inquiry&source=google`,
        (s) => s.school === north && s.stage === 'inquiry' && s.source === 'google',
      );
      await match(
        '?first_touch_from=2026-01-10&first_touch_to=2026-01-20',
        (s) => s.firstTouch >= '2026-01-10' && s.firstTouch < '2026-01-21T05:00',
      );
      // Dates are days in the tenant's time zone (America/New_York): 23:30Z on the 20th is still the 20th there…
      await match('?first_touch_to=2026-01-20', (s) => s.firstTouch < '2026-01-21');
      // …and an explicit time is taken as given.
      await match(
        '?first_touch_to=2026-01-20T23:00:00Z',
        (s) => s.firstTouch <= '2026-01-20T23:00:00Z',
      );
      await match('?created_to=2025-12-31', (s) => s.created < '2026-01-01');
      await match('?created_from=2026-01-01', (s) => s.created >= '2026-01-01');
      await match('?q=mar', (s) => /^mar/i.test(s.guardian));
      await match('?q=LOP', (s) => s.guardian === 'Maria Lopez');
      await match('?q=zed', (s) => s.email.startsWith('zed'));
      // LIKE wildcards match literally.
      await match('?q=100%25', (s) => s.guardian.startsWith('100%'));
      await match('?q=_', () => false);
      await match('?stage=enrolled', () => false);
    });

    it('takes a bare date in the lead’s school’s time zone, not the tenant’s', async () => {
      const db = await staff.db();
      // Dev Patel's first touch, 2026-01-20 23:30Z, is already the 21st at North in Kiritimati.
      await db.query(`update org_units set timezone = 'Pacific/Kiritimati' where id = $1`, [north]);
      try {
        const r = await list('?first_touch_to=2026-01-20');
        expect(r.status, r.text).toBe(200);
        expect(ids(r)).toEqual(
          expectedOrder(
            seeded.filter((s) => s.guardian !== 'Dev Patel' && s.firstTouch < '2026-01-21'),
          ),
        );
      } finally {
        await db.query(`update org_units set timezone = null where id = $1`, [north]);
      }
    });

    it('pages with an opaque cursor that neither skips nor repeats, even on equal times', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r: ApiResponse = await list(
          `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        );
        expect(r.status, r.text).toBe(200);
        expect(r.json.data.length).toBeLessThanOrEqual(2);
        seen.push(...ids(r));
        cursor = r.json.next_cursor;
        if (pages === 0) {
          expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
          // A lead arriving meanwhile (newest of all) must not shift the pages after this one.
          const fresh = await lead(h.tenants.alpha.id, {
            guardian: 'Late Arrival',
            email: `late-${runtime}@fam.test`,
            school: north,
            stage: 'inquiry',
            source: null,
            firstTouch: '2026-03-01T00:00:00Z',
          });
          seeded.push(fresh);
        }
        pages++;
      } while (cursor && pages < 20);
      const late = seeded.pop()!;
      expect(seen).toEqual(expectedOrder(seeded));
      expect(pages).toBe(Math.ceil(seeded.length / 2));
      await (await staff.db()).query(`delete from leads where id = $1`, [late.id]);

      // Filters apply across pages too.
      const first = await list(`?limit=1&source=google`);
      const second = await list(`?limit=1&source=google&cursor=${first.json.next_cursor}`);
      expect([...ids(first), ...ids(second)]).toEqual(
        expectedOrder(seeded.filter((s) => s.source === 'google')).slice(0, 2),
      );
    });

    it('shows a school-scoped principal only that school’s leads', async () => {
      const principal = await staff.person(h.tenants.alpha.id, [
        { role: 'principal', orgUnitId: north },
      ]);
      const r = await list('', principal.token);
      expect(r.status, r.text).toBe(200);
      expect(ids(r)).toEqual(expectedOrder(seeded.filter((s) => s.school === north)));
      // Asking for another school yields nothing rather than an error.
      const other = await list(`?school_id=${south}`, principal.token);
      expect(other.status).toBe(200);
      expect(other.json.data).toEqual([]);
      // An office admin scoped to the network root reaches every school, but leads without a school need tenant-wide reach.
      const root = await staff.root(h.tenants.alpha.id);
      const office = await staff.person(h.tenants.alpha.id, [
        { role: 'office_admin', orgUnitId: root },
      ]);
      const all = await list('', office.token);
      expect(ids(all)).toEqual(expectedOrder(seeded.filter((s) => s.school !== null)));
    });

    it('refuses parents and teachers (403), anonymous callers and other tenants’ tokens (401)', async () => {
      for (const role of ['parent', 'teacher']) {
        const p = await staff.person(h.tenants.alpha.id, [{ role }]);
        expectProblem(await list('', p.token), 403, 'forbidden');
      }
      expectProblem(await list('', null), 401, 'unauthenticated');
      const betaAdmin = await h.admin('beta');
      expectProblem(await list('', betaAdmin), 401, 'unauthenticated');
      // On its own host, beta's admin sees only beta's lead.
      const own = await list('', betaAdmin, 'beta.test');
      expect(own.json.data.map((l: { email: string }) => l.email)).toEqual(['maria@beta.test']);
    });

    it('answers malformed filters and cursors with a 400 problem naming the parameter', async () => {
      for (const [query, name] of [
        ['?limit=0', 'query.limit'],
        ['?limit=101', 'query.limit'],
        ['?limit=ten', 'query.limit'],
        ['?cursor=not-a-cursor', 'query.cursor'],
        [`?cursor=${Buffer.from('["2026-01-01", "x"]').toString('base64url')}`, 'query.cursor'],
        ['?school_id=north', 'query.school_id'],
        ['?created_from=yesterday', 'query.created_from'],
        ['?stage=DROP%20TABLE', 'query.stage'],
      ] as const) {
        const r = await list(query);
        expectProblem(r, 400, 'validation_failed');
        expect(
          r.json.invalid_params.map((p: { name: string }) => p.name),
          query,
        ).toContain(name);
      }
    });
  });
}
