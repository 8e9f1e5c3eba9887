import { queryRows, type Queryable } from '@wharf/database';

// The pull-through cache's fill leases: one row per fill some gateway is doing (a blob fetched from
// an upstream), so the others wait for it instead of fetching it too. Every time here is Postgres's
// now(): gateways on different machines share one clock.

/**
 * Takes or renews the lease on `key` for `ttlMs`: true when it was free, had run out, or was
 * already `holder`'s. One statement: ON CONFLICT locks the row and re-checks the condition against
 * its latest version, so of two gateways claiming at once exactly one wins.
 */
export async function claimProxyFill(
  db: Queryable,
  key: string,
  holder: string,
  ttlMs: number,
): Promise<boolean> {
  const rows = await queryRows<{ claimed: boolean }>(
    db,
    `INSERT INTO metadata.proxy_fills AS f (key, holder, expires_at)
     VALUES ($1, $2, now() + make_interval(secs => $3::float8 / 1000))
     ON CONFLICT (key) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE f.holder = EXCLUDED.holder OR f.expires_at <= now()
     RETURNING true AS claimed`,
    [key, holder, ttlMs],
  );
  return rows.length > 0;
}

/**
 * Ends `holder`'s lease on `key` (a lease another holder took over after it ran out stays). Rows
 * left by gateways that died mid-fill are pruned with it, long after they expired.
 */
export async function releaseProxyFill(db: Queryable, key: string, holder: string): Promise<void> {
  await db.query(
    `DELETE FROM metadata.proxy_fills
     WHERE (key = $1 AND holder = $2) OR expires_at < now() - interval '1 hour'`,
    [key, holder],
  );
}
