/**
 * Kept sums: aggregate tables in the warehouse whose every figure column is a sum over
 * facts (rows, cents, counts), so that an incremental run brings them up to date by adding
 * the contributions of the facts it adds and subtracting those of the facts they replace —
 * work in proportion to the change, with exactly the figures of a rebuild (integer and
 * DECIMAL sums only).
 */
import type { MetricContext } from './context.js';

/**
 * Replaces the rows of kept table `table` whose `key` appears in `changes` by the sum of
 * each old row and its changes (columns `sums`), dropping rows whose count column `count`
 * falls to 0 — an empty group has no row, as in a rebuild. `carried` columns are fixed by
 * the key (taken from either side). `keep.old`/`keep.merged` name temporary tables that
 * hold the rows before (with their `_rid`) and after (zero rows included), for callers that
 * derive further changes from them.
 */
export async function mergeSums(
  ctx: MetricContext,
  table: string,
  key: readonly string[],
  carried: readonly string[],
  sums: string,
  changes: string,
  count: string,
  keep: { old?: string; merged?: string } = {},
): Promise<void> {
  const k = key.join(', ');
  const on = key.map((c) => `t.${c} = d.${c}`).join(' AND ');
  const oldRows = keep.old ?? '_m_merge_old';
  await ctx.temp(
    oldRows,
    `SELECT t.rowid AS _rid, t.* FROM ${table} t
       SEMI JOIN (SELECT DISTINCT ${k} FROM ${changes}) d ON ${on}`,
  );
  const merged = keep.merged ?? '_m_merge_new';
  await ctx.temp(
    merged,
    `SELECT ${k}, ${carried.map((c) => `any_value(${c}) AS ${c}`).join(', ')}${carried.length ? ',' : ''}
            ${sums}
       FROM (SELECT * EXCLUDE (_rid) FROM ${oldRows} UNION ALL BY NAME SELECT * FROM ${changes})
      GROUP BY ${k}`,
  );
  // By row id: no second join on the key columns.
  await ctx.runner.run(`DELETE FROM ${table} WHERE rowid IN (SELECT _rid FROM ${oldRows})`);
  await ctx.runner.run(`INSERT INTO ${table} BY NAME SELECT * FROM ${merged} WHERE ${count} > 0`);
}

/**
 * Replaces the kept fact rows of the ids in relation `ids` (column `id`; matched against the
 * table's `key` column) by `fresh` (the facts of those ids now; ids with none simply lose
 * theirs). The rows before (with their `_rid`) and after stay in temporary tables
 * `<name>_old` and `<name>_new`.
 */
export async function replaceFacts(
  ctx: MetricContext,
  table: string,
  ids: string,
  fresh: string,
  name: string,
  key = 'id',
): Promise<void> {
  await ctx.temp(
    `${name}_old`,
    `SELECT t.rowid AS _rid, t.* FROM ${table} t SEMI JOIN ${ids} k ON k.id = t.${key}`,
  );
  await ctx.runner.run(`DELETE FROM ${table} WHERE rowid IN (SELECT _rid FROM ${name}_old)`);
  await ctx.temp(`${name}_new`, fresh);
  await ctx.runner.run(`INSERT INTO ${table} BY NAME SELECT * FROM ${name}_new`);
}
