import { queryRows, type Queryable } from '@wharf/database';

// metadata.repositories: one row per name, created on first write and never deleted.

/** Its id, creating the row on first use; outside any transaction so racing pushes never deadlock. */
export async function ensureRepositoryId(db: Queryable, name: string): Promise<string> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const found = await queryRows<{ id: string }>(
      db,
      'SELECT id FROM metadata.repositories WHERE name = $1',
      [name],
    );
    if (found.length) return found[0].id;
    const inserted = await queryRows<{ id: string }>(
      db,
      'INSERT INTO metadata.repositories (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id',
      [name],
    );
    if (inserted.length) return inserted[0].id;
  }
  throw new Error(`repository ${name} could not be created`);
}

/**
 * The id of a repository that holds a manifest: a row made by a blob upload, or by a manifest PUT
 * that was then refused, is not a repository to list (Distribution: 404).
 */
export async function listedRepositoryId(db: Queryable, name: string): Promise<string | undefined> {
  const rows = await queryRows<{ id: string }>(
    db,
    `SELECT r.id FROM metadata.repositories r WHERE r.name = $1
       AND EXISTS (SELECT 1 FROM metadata.manifests m WHERE m.repository_id = r.id)`,
    [name],
  );
  return rows[0]?.id;
}

/** Catalog page: names after `after` (byte order), at most `limit`, of repositories with a manifest. */
export async function repositoryNamesPage(
  db: Queryable,
  after: string | null,
  limit: number,
): Promise<string[]> {
  const rows = await queryRows<{ name: string }>(
    db,
    `SELECT r.name FROM metadata.repositories r
       WHERE ($1::text IS NULL OR r.name > $1)
         AND EXISTS (SELECT 1 FROM metadata.manifests m WHERE m.repository_id = r.id)
       ORDER BY r.name LIMIT $2`,
    [after, limit],
  );
  return rows.map((r) => r.name);
}

export async function repositoryNames(db: Queryable, ids: string[]): Promise<string[]> {
  const rows = await queryRows<{ name: string }>(
    db,
    'SELECT name FROM metadata.repositories WHERE id = ANY($1::bigint[])',
    [ids],
  );
  return rows.map((r) => r.name);
}
