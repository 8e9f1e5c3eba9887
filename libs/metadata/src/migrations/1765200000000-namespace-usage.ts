import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Namespace quotas (rules/quotas.ts): each namespace's usage, the size of the distinct blobs and
 * manifests linked to its repositories, kept exact by the database itself. Triggers on
 * metadata.blob_links and metadata.manifests count each digest's references per namespace
 * (namespace_content) and add or take its size from namespace_usage when the first reference
 * appears or the last one goes, so every writer keeps it right: pushes, unlinks, manifest deletes,
 * the collector's bulk deletes, and writers of the previous release during a rolling upgrade.
 *
 * The triggers run at commit (deferred constraint triggers), so a writer takes its namespace's
 * usage row lock last and holds it only while committing; a namespace's counts change only under
 * that lock, so they are exact however many replicas write. A quota check (rules/quotas.ts) fires
 * them early with SET CONSTRAINTS ... IMMEDIATE as the last step of its transaction, then reads the
 * usage under the lock: racing pushes into one namespace are checked one after another. Each
 * change that grew a namespace notes it in the transaction's `wharf.usage_grew`, so a refusal is
 * reserved for writes that actually added bytes.
 */
export class MetadataNamespaceUsage1765200000000 implements MigrationInterface {
  name = 'MetadataNamespaceUsage1765200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS metadata.namespace_usage (
        namespace text COLLATE "C" PRIMARY KEY,
        bytes bigint NOT NULL DEFAULT 0
      );
      CREATE TABLE IF NOT EXISTS metadata.namespace_content (
        namespace text COLLATE "C" NOT NULL,
        digest text NOT NULL,
        size bigint NOT NULL,
        refs integer NOT NULL,
        PRIMARY KEY (namespace, digest)
      );

      CREATE OR REPLACE FUNCTION metadata.namespace_usage_apply(
        p_ns text[], p_digests text[], p_sizes bigint[], p_refs integer[]
      ) RETURNS void LANGUAGE plpgsql AS $fn$
      DECLARE
        spaces text[];
        locked integer;
        grew text;
      BEGIN
        IF p_ns IS NULL THEN RETURN; END IF;
        SELECT array_agg(DISTINCT s ORDER BY s) INTO spaces FROM unnest(p_ns) AS s;
        PERFORM 1 FROM metadata.namespace_usage WHERE namespace = ANY (spaces)
          ORDER BY namespace FOR UPDATE;
        GET DIAGNOSTICS locked = ROW_COUNT;
        IF locked < array_length(spaces, 1) THEN
          INSERT INTO metadata.namespace_usage (namespace, bytes)
            SELECT s, 0 FROM unnest(spaces) AS s ORDER BY s ON CONFLICT (namespace) DO NOTHING;
          PERFORM 1 FROM metadata.namespace_usage WHERE namespace = ANY (spaces)
            ORDER BY namespace FOR UPDATE;
        END IF;
        IF p_refs[1] > 0 THEN
          -- Read and written in one statement: "fresh" sees the counts as they were before it.
          WITH c AS (SELECT * FROM unnest(p_ns, p_digests, p_sizes, p_refs) AS c(namespace, digest, size, refs)),
               fresh AS (SELECT c.namespace, c.size FROM c WHERE NOT EXISTS (
                           SELECT 1 FROM metadata.namespace_content nc
                           WHERE nc.namespace = c.namespace AND nc.digest = c.digest)),
               counted AS (INSERT INTO metadata.namespace_content AS nc (namespace, digest, size, refs)
                           SELECT namespace, digest, size, refs FROM c
                           ON CONFLICT (namespace, digest) DO UPDATE SET refs = nc.refs + EXCLUDED.refs),
               grown AS (UPDATE metadata.namespace_usage u SET bytes = u.bytes + f.bytes
                         FROM (SELECT namespace, sum(size) AS bytes FROM fresh GROUP BY namespace) f
                         WHERE u.namespace = f.namespace RETURNING u.namespace)
          SELECT string_agg(namespace, ' ') INTO grew FROM grown;
          IF grew IS NOT NULL THEN
            PERFORM set_config('wharf.usage_grew',
              coalesce(current_setting('wharf.usage_grew', true), '') || ' ' || grew || ' ', true);
          END IF;
        ELSE
          UPDATE metadata.namespace_content nc SET refs = nc.refs + c.refs
            FROM unnest(p_ns, p_digests, p_refs) AS c(namespace, digest, refs)
            WHERE nc.namespace = c.namespace AND nc.digest = c.digest;
          WITH gone AS (DELETE FROM metadata.namespace_content nc
                        USING unnest(p_ns, p_digests) AS c(namespace, digest)
                        WHERE nc.namespace = c.namespace AND nc.digest = c.digest AND nc.refs <= 0
                        RETURNING nc.namespace, nc.size)
          UPDATE metadata.namespace_usage u SET bytes = u.bytes - g.bytes
            FROM (SELECT namespace, sum(size) AS bytes FROM gone GROUP BY namespace) g
            WHERE u.namespace = g.namespace;
        END IF;
      END $fn$;

      -- Row-level and deferred to commit: the usage row's lock is then the last one a writer takes
      -- and is held only while it commits. Taken mid-transaction it would be held across the
      -- writer's later statements (tag rows, events), where writers queued on it deadlock with them.
      CREATE OR REPLACE FUNCTION metadata.namespace_usage_row() RETURNS trigger LANGUAGE plpgsql AS $fn$
      DECLARE
        row_ record;
        ns text;
        size bigint;
      BEGIN
        IF TG_OP = 'INSERT' THEN row_ := NEW; ELSE row_ := OLD; END IF;
        -- None when the repository went in this transaction: namespace_usage_repository_gone counted it.
        SELECT split_part(r.name, '/', 1) INTO ns FROM metadata.repositories r WHERE r.id = row_.repository_id;
        IF ns IS NULL THEN RETURN NULL; END IF;
        IF TG_TABLE_NAME = 'manifests' THEN size := octet_length(row_.body); ELSE size := row_.size; END IF;
        PERFORM metadata.namespace_usage_apply(ARRAY[ns], ARRAY[row_.digest::text], ARRAY[size],
          ARRAY[CASE WHEN TG_OP = 'INSERT' THEN 1 ELSE -1 END]);
        RETURN NULL;
      END $fn$;

      -- A repository's links and manifests, taken out of its namespace before the cascade removes
      -- them: their own triggers run at commit, when the repository can no longer be looked up.
      CREATE OR REPLACE FUNCTION metadata.namespace_usage_repository_gone() RETURNS trigger
      LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM metadata.namespace_usage_apply(array_agg(ns), array_agg(digest), array_agg(size), array_agg(n))
          FROM (SELECT split_part(OLD.name, '/', 1) AS ns, c.digest, max(c.size) AS size, -count(*)::int AS n
                FROM (SELECT digest, size FROM metadata.blob_links WHERE repository_id = OLD.id
                      UNION ALL
                      SELECT digest, octet_length(body)::bigint FROM metadata.manifests
                      WHERE repository_id = OLD.id) c
                GROUP BY 1, 2) g;
        RETURN OLD;
      END $fn$;

      DROP TRIGGER IF EXISTS namespace_usage_links ON metadata.blob_links;
      CREATE CONSTRAINT TRIGGER namespace_usage_links AFTER INSERT OR DELETE ON metadata.blob_links
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION metadata.namespace_usage_row();
      DROP TRIGGER IF EXISTS namespace_usage_manifests ON metadata.manifests;
      CREATE CONSTRAINT TRIGGER namespace_usage_manifests AFTER INSERT OR DELETE ON metadata.manifests
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION metadata.namespace_usage_row();
      DROP TRIGGER IF EXISTS namespace_usage_repository_gone ON metadata.repositories;
      CREATE TRIGGER namespace_usage_repository_gone BEFORE DELETE ON metadata.repositories
        FOR EACH ROW EXECUTE FUNCTION metadata.namespace_usage_repository_gone();
    `);
    // In this migration's transaction, after the triggers: CREATE TRIGGER holds writers of both
    // tables off until commit, so the backfill and the triggers see the same rows.
    await q.query(`
      DELETE FROM metadata.namespace_content;
      DELETE FROM metadata.namespace_usage;
      INSERT INTO metadata.namespace_content (namespace, digest, size, refs)
        SELECT split_part(r.name, '/', 1), c.digest, max(c.size), count(*)
        FROM (SELECT repository_id, digest, size FROM metadata.blob_links
              UNION ALL
              SELECT repository_id, digest, octet_length(body)::bigint FROM metadata.manifests) c
        JOIN metadata.repositories r ON r.id = c.repository_id
        GROUP BY 1, 2;
      INSERT INTO metadata.namespace_usage (namespace, bytes)
        SELECT namespace, sum(size) FROM metadata.namespace_content GROUP BY namespace;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TRIGGER IF EXISTS namespace_usage_links ON metadata.blob_links;
      DROP TRIGGER IF EXISTS namespace_usage_manifests ON metadata.manifests;
      DROP TRIGGER IF EXISTS namespace_usage_repository_gone ON metadata.repositories;
      DROP FUNCTION IF EXISTS metadata.namespace_usage_row();
      DROP FUNCTION IF EXISTS metadata.namespace_usage_repository_gone();
      DROP FUNCTION IF EXISTS metadata.namespace_usage_apply(text[], text[], bigint[], integer[]);
      DROP TABLE IF EXISTS metadata.namespace_content;
      DROP TABLE IF EXISTS metadata.namespace_usage;
    `);
  }
}
