import type { DataSource } from 'typeorm';
import { queryRows, type Queryable } from '@wharf/database';
import type { CacheChange } from '@wharf/contracts';

// The lease registry of cache holders and the changes still to be delivered to them (ADR 24).
// Every time here is Postgres's now(): holders and writers on different machines share one clock.

/**
 * Records a renewal: valid until now + leaseMs. `lost` when the holder was revoked, its lease had
 * run out, or it is new: it may have missed an invalidation and must flush. The old row is read
 * under lock in the renewal's transaction, so a revocation is ordered either before this renewal
 * (lost) or after it (then the writer waits out the lease this renewal records, and the next
 * renewal answers lost). One statement cannot do this: a row locked FOR UPDATE in a CTE and updated
 * by the same statement is not seen by the lock.
 */
export function renewCacheHolder(ds: DataSource, holder: string, leaseMs: number): Promise<boolean> {
  return ds.transaction(async (em) => {
    const [old] = await queryRows<{ lost: boolean }>(
      em,
      `SELECT revoked OR expires_at <= now() AS lost FROM metadata.cache_holders WHERE id = $1 FOR UPDATE`,
      [holder],
    );
    await em.query(
      `INSERT INTO metadata.cache_holders (id, expires_at, revoked)
       VALUES ($1, now() + make_interval(secs => $2::float8 / 1000), false)
       ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at, revoked = false`,
      [holder, leaseMs],
    );
    return old?.lost ?? true;
  });
}

/** Holders whose lease is live now. */
export async function liveCacheHolders(db: Queryable): Promise<string[]> {
  const rows = await queryRows<{ id: string }>(
    db,
    'SELECT id FROM metadata.cache_holders WHERE expires_at > now()',
  );
  return rows.map((r) => r.id);
}

/**
 * Revokes holders that did not acknowledge a change, answering how long (ms) the longest of their
 * leases still runs: once that has passed none of them answers from its cache any more.
 */
export async function revokeCacheHolders(db: Queryable, holders: string[]): Promise<number> {
  const [row] = await queryRows<{ wait_ms: number | string | null }>(
    db,
    `WITH revoked AS (
       UPDATE metadata.cache_holders SET revoked = true
       WHERE id = ANY($1::text[]) AND expires_at > now() RETURNING expires_at
     )
     SELECT ceil(extract(epoch FROM max(expires_at) - now()) * 1000) AS wait_ms FROM revoked`,
    [holders],
  );
  return Math.max(0, Number(row?.wait_ms ?? 0));
}

/** A holder that shuts down cleanly; rows of holders long gone are pruned with it. */
export async function releaseCacheHolder(db: Queryable, holder: string): Promise<void> {
  await db.query(
    `DELETE FROM metadata.cache_holders WHERE id = $1 OR expires_at < now() - interval '1 hour'`,
    [holder],
  );
}

/** Records changes in the write's own transaction: delivered by someone even if the writer dies. */
export async function recordCacheChanges(db: Queryable, changes: CacheChange[]): Promise<string> {
  const [row] = await queryRows<{ id: string }>(
    db,
    'INSERT INTO metadata.cache_changes (changes) VALUES ($1::jsonb) RETURNING id',
    [JSON.stringify(changes)],
  );
  return row.id;
}

export async function forgetCacheChanges(db: Queryable, id: string): Promise<void> {
  await db.query('DELETE FROM metadata.cache_changes WHERE id = $1', [id]);
}

/**
 * Changes whose writer has not delivered them within `olderThanMs` of their commit (it died):
 * locked, so two replicas sweeping at once deliver each only once. In a transaction.
 */
export async function strandedCacheChanges(
  db: Queryable,
  olderThanMs: number,
  limit: number,
): Promise<{ id: string; changes: CacheChange[] }[]> {
  return queryRows(
    db,
    `SELECT id, changes FROM metadata.cache_changes
     WHERE created_at < now() - make_interval(secs => $1::float8 / 1000)
     ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
    [olderThanMs, limit],
  );
}
