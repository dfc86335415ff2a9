import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDb } from '../../db/connection-node.js';
import * as schema from '../../db/schema/tenant.js';
import { publishSnapshots } from '../../analytics/publish.js';
import { MATVIEWS, compareWithSnapshots } from '../../bench/matviews.js';
import { buildWorld, rng } from './dataset.js';
import { createAnalyticsWorld, type AnalyticsWorld } from './world.js';

// The refresh bench's PostgreSQL baseline (bench/matviews.ts) must compute every figure the
// warehouse publishes: checked here on the test dataset, with a school in another zone than
// the tenant and stage moves across a daylight-saving change, as of today (the views' date).

let w: AnalyticsWorld;
beforeAll(async () => {
  w = await createAnalyticsWorld('matviews');
});
afterAll(async () => w?.close());

it('gives the published figures from the branch tables, with a school in its own time zone', async () => {
  const t = await w.tenant('mview');
  const world = await buildWorld(t, rng(7));
  await t.exec(`update org_units set timezone = 'America/Denver' where id = $1`, [
    world.schools[0],
  ]);
  // First touches near midnight (another day in Denver than in New York) and a move across
  // the 2024-11-03 clock change.
  const touches = ['2025-01-16T05:30:00Z', '2025-01-13T05:30:00Z', '2024-11-01T18:00:00Z'];
  for (const [i, at] of touches.entries()) {
    const lead = await t.insert('leads', {
      guardian_name: 'G',
      email: `zone${i}@example.com`,
      school_id: world.schools[0],
      stage: 'tour_scheduled',
      source: 'web',
      first_touch_at: at,
    });
    await t.insert('lead_stage_history', {
      lead_id: lead,
      from_stage: 'inquiry',
      to_stage: 'tour_scheduled',
      changed_at: '2024-11-03T19:30:00Z',
    });
  }
  const r = await t.refresh({ timezone: 'America/New_York' });
  const handle = await createDb({ driver: 'pg', url: t.appUrl, schema, max: 2 });
  try {
    await publishSnapshots(handle.db, {
      tenantId: t.id,
      runId: r.runId,
      snapshots: r.snapshots,
      payloadRuns: r.payloadRuns,
      dataAsOf: r.extractedAt,
    });
  } finally {
    await handle.close();
  }
  // The views' current_date and zone for rows with no school are the session's.
  await w.admin.query(`select set_config('TimeZone', 'America/New_York', false)`);
  for (const [name, v] of Object.entries(MATVIEWS)) {
    await w.admin.query(`create materialized view ${name} as ${v.sql}`);
  }
  expect(await compareWithSnapshots(w.admin, t.id)).toEqual([]);
}, 300_000);
