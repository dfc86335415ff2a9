import { sql } from 'drizzle-orm';
import { rowsOf } from '../connection.js';
import { sqlStateOf } from '../branches/local.js';
import tenantJournal from '../migrations/tenant/meta/_journal.json' with { type: 'json' };
import type { OpenDb } from './deps.js';
import { PlatformError } from './errors.js';

/**
 * The tenant schema this code is built for, read from the bundled migration journal (no
 * file system access, so it works on workerd too), and the check that a branch has it.
 */

interface JournalEntry {
  when: number;
  tag: string;
}
const TENANT_MIGRATIONS: readonly JournalEntry[] = (tenantJournal as { entries: JournalEntry[] })
  .entries;

/** Tag of the newest tenant migration bundled with this code: what every branch must be at. */
export const BUNDLED_TENANT_SCHEMA_VERSION: string = (() => {
  const last = TENANT_MIGRATIONS.at(-1);
  if (!last) throw new Error('no tenant migrations bundled');
  return last.tag;
})();

/**
 * Checks that a branch copied from the template carries exactly the schema bundled with
 * this code, reading drizzle's migration journal through the owner connection. A new
 * branch is a copy of the template, so a mismatch means the template was not migrated
 * (or the code is older than the database): provisioning must stop rather than seed a
 * branch the app cannot use. Returns the schema version.
 */
export async function verifyBranchSchema(open: OpenDb, ownerUrl: string): Promise<string> {
  const { db, close } = await open(ownerUrl, {}, 1);
  let applied: number[];
  try {
    const rows = rowsOf<{ created_at: string | number | null }>(
      await db.execute(sql`select created_at from drizzle.__drizzle_migrations`),
    );
    applied = rows.map((r) => Number(r.created_at)).filter((n) => Number.isFinite(n));
  } catch (err) {
    // No drizzle schema or table: the template was never migrated.
    if (!['3F000', '42P01'].includes(sqlStateOf(err) ?? '')) throw err;
    applied = [];
  } finally {
    await close();
  }
  const latest = applied.length ? Math.max(...applied) : null;
  const tagAt = (when: number | null) =>
    when === null
      ? 'no schema'
      : (TENANT_MIGRATIONS.find((m) => m.when === when)?.tag ?? 'unknown');
  const expected = TENANT_MIGRATIONS.at(-1)!;
  const missing = TENANT_MIGRATIONS.filter((m) => !applied.includes(m.when));
  if (latest === expected.when && missing.length === 0) return expected.tag;
  if (latest !== null && latest > expected.when) {
    throw new PlatformError(
      'schema_mismatch',
      `the template branch is at schema ${tagAt(latest)}, newer than this code (${expected.tag}): deploy the current code`,
    );
  }
  throw new PlatformError(
    'schema_mismatch',
    `the template branch is at schema ${tagAt(latest)} but this code needs ${expected.tag}: run npm run db:migrate`,
  );
}
