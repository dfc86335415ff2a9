/**
 * The warehouse file's schema: the extracted tables (`../tables.ts`) and the warehouse-only
 * ones (state, run log, snapshots), created on a new file and rebuilt when the catalog
 * changes.
 */
import { createHash } from 'node:crypto';
import { WAREHOUSE_TABLES, ddlColumns } from '../tables.js';
import { lit, type SqlRunner } from './sql.js';

/** Bump when a warehouse-only table (state, runs, snapshots) changes shape. */
const META_VERSION = 1;

type Transact = (fn: (tx: SqlRunner) => Promise<void>) => Promise<void>;

/** The fingerprint of the extracted tables' DDL: a changed catalog forces a rebuild. */
function catalogFingerprint(): string {
  const ddl = WAREHOUSE_TABLES.map((t) => `${t.name}(${ddlColumns(t)})`).join(';');
  return createHash('sha256').update(`${META_VERSION};${ddl}`).digest('hex').slice(0, 16);
}

/** DDL of the warehouse-only tables. */
const META_DDL = [
  `CREATE TABLE IF NOT EXISTS warehouse_state (
     tenant_id UUID NOT NULL, schema_fingerprint VARCHAR NOT NULL, watermark VARCHAR,
     timezone VARCHAR, last_run_id UUID, last_as_of DATE)`,
  `CREATE TABLE IF NOT EXISTS refresh_runs (
     run_id UUID NOT NULL, requested_mode VARCHAR NOT NULL, mode VARCHAR NOT NULL,
     status VARCHAR NOT NULL, started_at TIMESTAMPTZ NOT NULL, finished_at TIMESTAMPTZ,
     as_of DATE, rows_per_table JSON, watermark_before VARCHAR, watermark_after VARCHAR,
     error VARCHAR)`,
  `CREATE TABLE IF NOT EXISTS metric_snapshots (
     metric VARCHAR NOT NULL, scope_kind VARCHAR NOT NULL, scope_id UUID, period VARCHAR NOT NULL,
     as_of DATE NOT NULL, payload VARCHAR NOT NULL, run_id UUID NOT NULL)`,
  // run_id: the run that first produced this payload; hash: of its JSON text (sha1, hex).
  `ALTER TABLE metric_snapshots ADD COLUMN IF NOT EXISTS hash VARCHAR`,
];

/**
 * Creates the schema on a new file; on a file whose extracted-table catalog differs from
 * this code's, drops the derived tables and the watermark so the next refresh is full.
 * The run log survives.
 */
export async function ensureSchema(
  w: SqlRunner & { readonly path: string; readonly tenantId: string; transaction: Transact },
): Promise<void> {
  for (const ddl of META_DDL) await w.run(ddl);
  // Payloads are JSON text as the refresh wrote them (hashed, then published as is):
  // nothing here parses them, so files from before hold them as text too.
  const [payload] = await w.rows<{ type: string }>(
    `SELECT data_type AS type FROM information_schema.columns
      WHERE table_catalog = current_database() AND table_name = 'metric_snapshots'
        AND column_name = 'payload'`,
  );
  if (payload && payload.type !== 'VARCHAR') {
    await w.run(`ALTER TABLE metric_snapshots ALTER COLUMN payload SET DATA TYPE VARCHAR`);
  }
  const fingerprint = catalogFingerprint();
  const [state] = await w.rows<{ tenant_id: string; schema_fingerprint: string }>(
    `SELECT tenant_id::VARCHAR AS tenant_id, schema_fingerprint FROM warehouse_state`,
  );
  if (state && state.tenant_id !== w.tenantId) {
    throw new Error(`warehouse ${w.path} belongs to another tenant`);
  }
  if (state?.schema_fingerprint === fingerprint) return;
  await w.transaction(async (tx) => {
    for (const t of WAREHOUSE_TABLES)
      await tx.run(`CREATE OR REPLACE TABLE "${t.name}" (${ddlColumns(t)})`);
    await tx.run(`DELETE FROM metric_snapshots`);
    await tx.run(`DELETE FROM warehouse_state`);
    await tx.run(
      `INSERT INTO warehouse_state VALUES (${lit(w.tenantId)}, ${lit(fingerprint)}, NULL, NULL, NULL, NULL)`,
    );
  });
}
