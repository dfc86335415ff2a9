import { sql, type SQL } from 'drizzle-orm';

/** `(id, …)` of uuids for `in`; `(null::uuid)`, which matches nothing, when empty. */
export const uuidList = (ids: readonly string[]): SQL =>
  ids.length === 0
    ? sql`(null::uuid)`
    : sql`(${sql.join(
        ids.map((id) => sql`${id}::uuid`),
        sql`, `,
      )})`;

/** `\`, `%`, `_` escaped, then `%`: a literal prefix for `ilike`. */
export const literalPrefix = (s: string) => `${s.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
