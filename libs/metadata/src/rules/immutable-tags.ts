import { queryRows, type Queryable } from '@wharf/database';
import { RegistryError } from '@wharf/oci';
import type { ImmutableRule, Rules } from './rules-file';

/**
 * Immutable tags (WHARF_RULES `immutable:`), checked inside the write's transaction. A tag held by a
 * rule never moves once set and is never deleted, nor is a manifest one of them points to. Proxied
 * puts are not checked: a mirror's tags follow its upstream.
 */

/** How a refusal names the rule, as the file says it: `<file> line N`. */
export function ruleName(rule: ImmutableRule): string {
  return `${rule.file} line ${rule.line}`;
}

function denied(rule: ImmutableRule, repository: string, tag: string, what: string): RegistryError {
  const name = ruleName(rule);
  return new RegistryError('DENIED', `tag ${repository}:${tag} is immutable (rule ${name}): ${what}`, {
    repository,
    tag,
    rule: name,
  });
}

// Two-key advisory locks in a namespace of our own ('wimt'), apart from every other user's.
const TAG_LOCK_SPACE = 2003398004;

/**
 * Before the tag is touched: PUTs of one held tag queued behind each other, then one that would
 * move it to another digest refused. The same digest again passes (clients retry).
 *
 * The queue is an advisory lock on the tag's key, not the tag's row, because a tag not created yet
 * has no row: without it, a PUT that found no row takes the manifest's row and then waits for the
 * tag's row, which a PUT that found the row holds while it waits for the manifest's (a deadlock).
 */
export async function checkImmutablePut(
  db: Queryable,
  rule: ImmutableRule,
  repository: string,
  repositoryId: string,
  tag: string,
  digest: string,
): Promise<void> {
  await db.query(`SELECT pg_advisory_xact_lock($1, hashtext($2 || ':' || $3))`, [
    TAG_LOCK_SPACE,
    repositoryId,
    tag,
  ]);
  await refuseMove(db, rule, repository, repositoryId, tag, digest);
}

/** Locks the tag's row (a writer not queued by the rule waits) and refuses another digest. */
async function refuseMove(
  db: Queryable,
  rule: ImmutableRule,
  repository: string,
  repositoryId: string,
  tag: string,
  digest: string,
): Promise<void> {
  const rows = await queryRows<{ manifest_digest: string }>(
    db,
    `SELECT manifest_digest FROM metadata.tags WHERE repository_id = $1 AND name = $2 FOR UPDATE`,
    [repositoryId, tag],
  );
  if (rows.length && rows[0].manifest_digest !== digest)
    throw denied(rule, repository, tag, `it points to ${rows[0].manifest_digest} and cannot be moved`);
}

/**
 * Sets an immutable tag where putTag would upsert it. Insert first, on the tag's primary key: a
 * writer the queue above did not hold back (one whose rules were not yet reloaded) may have created
 * the tag meanwhile; the insert then waits for it and, once it commits, conflicts, and the tag's
 * digest decides (the same passes, another is refused and this transaction rolls back).
 */
export async function setImmutableTag(
  db: Queryable,
  rule: ImmutableRule,
  repository: string,
  repositoryId: string,
  tag: string,
  digest: string,
): Promise<void> {
  const inserted = await queryRows<{ name: string }>(
    db,
    `INSERT INTO metadata.tags (repository_id, name, manifest_digest, updated_at)
     VALUES ($1, $2, $3, now())
     ON CONFLICT (repository_id, name) DO NOTHING RETURNING name`,
    [repositoryId, tag, digest],
  );
  if (inserted.length) return;
  await refuseMove(db, rule, repository, repositoryId, tag, digest);
  // Set again: the tag's push time is when it was last set.
  await db.query(`UPDATE metadata.tags SET updated_at = now() WHERE repository_id = $1 AND name = $2`, [
    repositoryId,
    tag,
  ]);
}

/**
 * A tag DELETE: true when it may go ahead. A tag a rule holds is refused when it exists and never
 * handed to the delete otherwise (false: 404), so a concurrent first push cannot be deleted in between.
 */
export async function checkImmutableTagDelete(
  db: Queryable,
  rules: Rules,
  repository: string,
  tag: string,
): Promise<boolean> {
  const rule = rules.immutableRule(repository, tag);
  if (!rule) return true;
  const rows = await queryRows<{ manifest_digest: string }>(
    db,
    `SELECT t.manifest_digest FROM metadata.tags t JOIN metadata.repositories r ON r.id = t.repository_id
     WHERE r.name = $1 AND t.name = $2`,
    [repository, tag],
  );
  if (rows.length) throw denied(rule, repository, tag, 'it cannot be deleted');
  return false;
}

/**
 * A manifest DELETE by digest: the manifest row locked first (a PUT setting a tag on it holds a key
 * lock on that row until it commits, so its tag is seen here), then refused when any tag a rule
 * holds points to it.
 */
export async function checkImmutableManifestDelete(
  db: Queryable,
  rules: Rules,
  repository: string,
  digest: string,
): Promise<void> {
  if (!rules.immutable.length) return;
  const locked = await queryRows<{ repository_id: string }>(
    db,
    `SELECT m.repository_id FROM metadata.manifests m JOIN metadata.repositories r ON r.id = m.repository_id
     WHERE r.name = $1 AND m.digest = $2 FOR UPDATE OF m`,
    [repository, digest],
  );
  if (!locked.length) return;
  const tags = await queryRows<{ name: string }>(
    db,
    `SELECT name FROM metadata.tags WHERE repository_id = $1 AND manifest_digest = $2 ORDER BY name`,
    [locked[0].repository_id, digest],
  );
  for (const { name } of tags) {
    const rule = rules.immutableRule(repository, name);
    if (rule) throw denied(rule, repository, name, `the manifest ${digest} it points to cannot be deleted`);
  }
}
