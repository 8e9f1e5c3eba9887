/** Anything that runs SQL: a TypeORM DataSource (the pool), a transaction's EntityManager, a pg Pool. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<unknown>;
}

/**
 * The rows a statement answered. TypeORM's Postgres driver answers `[rows, affected]` for a
 * statement whose top level is UPDATE or DELETE (with or without RETURNING) and the rows for every
 * other one; with RETURNING, `rows.length` is the affected count too.
 */
export function rowsOf<R>(result: unknown): R[] {
  if (
    Array.isArray(result) &&
    result.length === 2 &&
    Array.isArray(result[0]) &&
    typeof result[1] === 'number'
  ) {
    return result[0] as R[];
  }
  return Array.isArray(result) ? (result as R[]) : [];
}

/** Runs one statement and answers its rows as `R`: the one place a result is given its type. */
export async function queryRows<R>(db: Queryable, sql: string, params?: unknown[]): Promise<R[]> {
  return rowsOf<R>(await db.query(sql, params));
}
