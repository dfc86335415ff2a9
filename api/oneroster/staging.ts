import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { escapeText } from '../../db/seed/copy.js';
import type { Tx } from '../../db/connection.js';
import type * as TenantSchema from '../../db/schema/tenant.js';
import type { StagedRow } from './read.js';
import { SPECS, type FileKey } from './spec.js';

/** The import's staging tables: their names, their columns, and loading a batch of rows into them. */

export const LIVE = (a: string) => `coalesce(${a}.status, 'active') <> 'tobedeleted'`;
export const stg = (key: FileKey) => `or_stg_${key}`;
export const col = (name: string) => `"${name}"`;

export type Query = <R extends Record<string, unknown> = Record<string, unknown>>(
  text: string,
) => Promise<R[]>;

/** The staging table's columns, in order. */
const stagingColumns = (key: FileKey) => [
  'line',
  ...Object.keys(SPECS[key].columns),
  ...(key === 'categories' ? ['key'] : []),
];

/**
 * Stages a batch of checked rows: `COPY … FROM STDIN` where the transaction runs on a `pg`
 * client (Node), else one insert of the batch as JSON (the Neon and PGlite drivers).
 */
export async function stage(tx: Tx<typeof TenantSchema>, key: FileKey, batch: StagedRow[]) {
  const client = (tx as unknown as { $client?: unknown }).$client;
  if (client instanceof pg.Client) {
    const columns = stagingColumns(key);
    const text = batch
      .map(
        (row) =>
          columns
            .map((c) =>
              row[c] === null || row[c] === undefined ? '\\N' : escapeText(String(row[c])),
            )
            .join('\t') + '\n',
      )
      .join('');
    await pipeline(
      Readable.from([text]),
      client.query(copyFrom(`copy ${stg(key)} (${columns.map(col).join(', ')}) from stdin`)),
    );
    return;
  }
  await tx.execute(
    sql`insert into ${sql.raw(stg(key))} select * from jsonb_populate_recordset(null::${sql.raw(stg(key))}, ${JSON.stringify(batch)}::jsonb)`,
  );
}
