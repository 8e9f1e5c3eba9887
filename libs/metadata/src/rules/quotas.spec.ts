/**
 * Namespace quotas against a real Postgres (a fresh database per run): the usage the triggers keep
 * (links, unlinks, content shared by two repositories of a namespace counted once, manifest
 * deletes, the collector's deletes, a repository's cascade, the backfill of existing rows) and the
 * enforcement where content is linked (blob link, mount, manifest PUT, upload admission, racing pushes).
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { BlobApi } from '@wharf/contracts';
import { MT_OCI_CONFIG, MT_OCI_LAYER, MT_OCI_MANIFEST, RegistryError, sha256 } from '@wharf/oci';
import { BlobLinks } from '../blob-links.service';
import type { CacheCoherence } from '../coherence/cache-coherence';
import { HolderCoherence } from '../coherence';
import { NO_EVENTS } from '../events/outbox';
import { GC_DEFAULTS, GcCollector, enqueueGarbage } from '../gc';
import { ManifestWrites } from '../manifest-writes';
import { openMetadataDataSource } from '../metadata.module';
import { METADATA_MIGRATIONS } from '../migrations';
import { NO_READ_CACHE } from '../read-cache';
import { NO_SCHEMA1 } from '../schema1.seam';
import { NamespaceQuotas, listNamespaceUsage } from './quotas';
import { parseRules, type Rules } from './rules-file';

const pgEnv = {
  ...process.env,
  PGHOST: process.env.PGHOST ?? '127.0.0.1',
  PGUSER: process.env.PGUSER ?? 'postgres',
};
const dbName = `wharf_quotas_${randomBytes(6).toString('hex')}`;
const FILE = '/etc/wharf/rules.yaml';
const RULES = `quotas:
  - namespaces: ['team', 'race']
    limit: 10KiB
  - namespaces: ['hub']
    limit: 1KiB
  - namespaces: ['t*']
    limit: 1TiB
`;
const noCoherence: CacheCoherence = { record: async () => '0', settle: async () => undefined };
const digestOf = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;

describe('namespace quotas (Postgres)', () => {
  let ds: DataSource;
  let rules: Rules;
  const current = { current: async () => rules };
  let links: BlobLinks;
  let writes: ManifestWrites;

  const usage = async (namespace: string): Promise<number | undefined> => {
    const rows = (await ds.query('SELECT bytes FROM metadata.namespace_usage WHERE namespace = $1', [
      namespace,
    ])) as { bytes: string }[];
    return rows.length ? Number(rows[0].bytes) : undefined;
  };
  /** What usage should be, recomputed from the rows: the trigger-kept figure must always equal it. */
  const recomputed = async (namespace: string): Promise<number> => {
    const rows = (await ds.query(
      `SELECT coalesce(sum(size), 0) AS bytes FROM (
         SELECT DISTINCT c.digest, c.size FROM (
           SELECT repository_id, digest, size FROM metadata.blob_links
           UNION ALL SELECT repository_id, digest, octet_length(body) FROM metadata.manifests) c
         JOIN metadata.repositories r ON r.id = c.repository_id WHERE split_part(r.name, '/', 1) = $1) d`,
      [namespace],
    )) as { bytes: string }[];
    return Number(rows[0].bytes);
  };
  const expectUsage = async (namespace: string, bytes: number): Promise<void> => {
    expect({ kept: await usage(namespace), actual: await recomputed(namespace) }).toEqual({
      kept: bytes,
      actual: bytes,
    });
  };
  const refusal = async (p: Promise<unknown>): Promise<RegistryError> => {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(RegistryError);
    return e as RegistryError;
  };
  const linked = async (repository: string, digest: string): Promise<boolean> => {
    const rows = (await ds.query(
      `SELECT 1 FROM metadata.blob_links l JOIN metadata.repositories r ON r.id = l.repository_id
       WHERE r.name = $1 AND l.digest = $2`,
      [repository, digest],
    )) as unknown[];
    return rows.length > 0;
  };
  const manifestOf = (layers: { digest: string; size: number }[]) =>
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MT_OCI_MANIFEST,
        config: { mediaType: MT_OCI_CONFIG, digest: layers[0].digest, size: layers[0].size },
        layers: layers.map((l) => ({ mediaType: MT_OCI_LAYER, ...l })),
      }),
    );
  const putManifest = (repository: string, reference: string, body: Buffer, proxied?: boolean) =>
    writes.putManifest({
      repository,
      reference,
      contentType: MT_OCI_MANIFEST,
      body,
      ...(proxied ? { proxied } : {}),
    });

  beforeAll(async () => {
    execFileSync('createdb', [dbName], { env: pgEnv });
    ds = await openMetadataDataSource({
      databaseUrl: `postgres://${pgEnv.PGUSER}@${pgEnv.PGHOST}:5432/${dbName}`,
      poolSize: 24,
      timeoutMs: 10_000,
    });
    links = new BlobLinks(ds, NO_READ_CACHE, noCoherence, NO_EVENTS, GC_DEFAULTS, current);
    const blobs = { openBlob: async () => Promise.reject(new Error('no config kept')) };
    writes = new ManifestWrites(
      ds,
      blobs as unknown as BlobApi,
      noCoherence,
      NO_SCHEMA1,
      NO_EVENTS,
      GC_DEFAULTS,
      current,
    );
  });

  beforeEach(() => {
    rules = parseRules(RULES, FILE);
  });

  afterAll(async () => {
    await ds?.destroy();
    execFileSync('dropdb', ['--force', '--if-exists', dbName], { env: pgEnv });
  });

  describe('usage kept by the triggers', () => {
    it('counts a link, a blob shared by two repositories of a namespace once, and frees it with the last unlink', async () => {
      await links.linkBlob({ repository: 'acme/a', digest: digestOf(1), size: 100 });
      await links.linkBlob({ repository: 'acme/a', digest: digestOf(1), size: 100 });
      await links.linkBlob({ repository: 'acme/b', digest: digestOf(1), size: 100 });
      await links.mountBlob({ repository: 'acme/c', digest: digestOf(1), from: 'acme/a' });
      await links.linkBlob({ repository: 'acme/b', digest: digestOf(2), size: 50 });
      await links.linkBlob({ repository: 'other/x', digest: digestOf(1), size: 100 });
      await expectUsage('acme', 150);
      await expectUsage('other', 100);
      await links.unlinkBlob({ repository: 'acme/a', digest: digestOf(1) });
      await links.unlinkBlob({ repository: 'acme/b', digest: digestOf(1) });
      await expectUsage('acme', 150);
      await links.unlinkBlob({ repository: 'acme/c', digest: digestOf(1) });
      await expectUsage('acme', 50);
      await expectUsage('other', 100);
    });

    it("counts a manifest's body, and a manifest delete takes it (and only it) away", async () => {
      const layer = { digest: digestOf(10), size: 300 };
      await links.linkBlob({ repository: 'mf/app', ...layer });
      const body = manifestOf([layer]);
      const { digest } = await putManifest('mf/app', 'v1', body);
      await putManifest('mf/other', 'v1', body, true); // same digest, second repository: once
      await expectUsage('mf', 300 + body.length);
      await writes.deleteManifest({ repository: 'mf/app', reference: digest });
      await expectUsage('mf', 300 + body.length);
      await writes.deleteManifest({ repository: 'mf/other', reference: 'v1' }); // the tag only
      await expectUsage('mf', 300 + body.length);
      await writes.deleteManifest({ repository: 'mf/other', reference: digest });
      await expectUsage('mf', 300);
    });

    it("the collector's bulk delete of a blob's links across namespaces, and its run, free usage", async () => {
      for (const repository of ['gca/x', 'gcb/y', 'gcb/z'])
        await links.linkBlob({ repository, digest: digestOf(20), size: 1000 });
      await links.linkBlob({ repository: 'gcb/y', digest: digestOf(21), size: 7 });
      await ds.query('DELETE FROM metadata.blob_links WHERE digest = $1', [digestOf(20)]);
      await expectUsage('gca', 0);
      await expectUsage('gcb', 7);
      // The real collector: the unreferenced link goes once its review is due.
      await enqueueGarbage(ds, 0);
      await ds.query('UPDATE metadata.gc_blob_reviews SET review_after = now()');
      await new GcCollector(ds, undefined, 0, new HolderCoherence(ds)).runPass();
      expect(await linked('gcb/y', digestOf(21))).toBe(false);
      await expectUsage('gcb', 0);
    });

    it("deleting a repository takes its links and manifests out of its namespace's usage", async () => {
      await links.linkBlob({ repository: 'gone/a', digest: digestOf(30), size: 11 });
      await links.linkBlob({ repository: 'gone/b', digest: digestOf(31), size: 13 });
      await ds.query(`DELETE FROM metadata.repositories WHERE name = 'gone/a'`);
      await expectUsage('gone', 13);
    });

    it('the migration backfills usage from the rows already there', async () => {
      await links.linkBlob({ repository: 'fill/a', digest: digestOf(40), size: 5 });
      await links.linkBlob({ repository: 'fill/b', digest: digestOf(40), size: 5 });
      await links.linkBlob({ repository: 'fill/b', digest: digestOf(41), size: 6 });
      const before = (await ds.query(
        'SELECT namespace, bytes FROM metadata.namespace_usage WHERE bytes > 0 ORDER BY 1',
      )) as unknown[];
      const migration = METADATA_MIGRATIONS.find((m) => m.name.includes('NamespaceUsage'));
      const runner = ds.createQueryRunner();
      try {
        await runner.query('TRUNCATE metadata.namespace_usage, metadata.namespace_content');
        await new migration!().up(runner);
      } finally {
        await runner.release();
      }
      expect(
        await ds.query('SELECT namespace, bytes FROM metadata.namespace_usage WHERE bytes > 0 ORDER BY 1'),
      ).toEqual(before);
      await expectUsage('fill', 11);
    });
  });

  describe('enforcement', () => {
    it('refuses the link that crosses the limit, not the ones before, with usage and limit; the link rolls back', async () => {
      await links.linkBlob({ repository: 'team/app', digest: digestOf(100), size: 6000 });
      await links.linkBlob({ repository: 'team/app', digest: digestOf(101), size: 4240 }); // exactly 10 KiB
      const e = await refusal(links.linkBlob({ repository: 'team/lib', digest: digestOf(102), size: 1 }));
      expect([e.code, e.status]).toEqual(['DENIED', 403]);
      expect(e.message).toContain('10241 bytes');
      expect(e.message).toContain('10240 bytes (10.0 KiB)');
      expect(e.message).toContain(`${FILE} line 2`);
      expect(await linked('team/lib', digestOf(102))).toBe(false);
      await expectUsage('team', 10240);
      // Content the namespace already holds adds nothing, so it is linked even at the limit.
      await links.linkBlob({ repository: 'team/lib', digest: digestOf(100), size: 6000 });
      expect(await linked('team/lib', digestOf(100))).toBe(true);
      // A mount that would add bytes is refused too.
      await links.linkBlob({ repository: 'free/x', digest: digestOf(103), size: 10 });
      await refusal(links.mountBlob({ repository: 'team/app', digest: digestOf(103), from: 'free/x' }));
      expect(await linked('team/app', digestOf(103))).toBe(false);
      // At the limit, a new upload is refused before it starts; other namespaces are not.
      const admit = new NamespaceQuotas(ds, current);
      expect((await refusal(admit.admitUpload('team/new'))).message).toContain('uses 10240 bytes');
      await admit.admitUpload('free/new');
      // Freed content makes room again.
      await links.unlinkBlob({ repository: 'team/app', digest: digestOf(101) });
      await admit.admitUpload('team/new');
      await links.linkBlob({ repository: 'team/lib', digest: digestOf(102), size: 1 });
    });

    it('refuses the manifest PUT whose body crosses the limit, leaving the tag where it was', async () => {
      const layer = { digest: digestOf(200), size: 10240 - 400 };
      await links.linkBlob({ repository: 'tmf/app', ...layer });
      rules = parseRules(`quotas:\n  - namespaces: ['tmf']\n    limit: 10KiB\n`, FILE);
      const small = manifestOf([layer]);
      expect(small.length).toBeLessThan(400);
      await putManifest('tmf/app', 'v1', small);
      const big = Buffer.from(
        JSON.stringify({ ...JSON.parse(small.toString()), annotations: { pad: 'x'.repeat(400) } }),
      );
      const e = await refusal(putManifest('tmf/app', 'v1', big));
      expect(e.code).toBe('DENIED');
      const tags = (await ds.query(
        `SELECT t.manifest_digest AS d FROM metadata.tags t JOIN metadata.repositories r ON r.id = t.repository_id
         WHERE r.name = 'tmf/app'`,
      )) as { d: string }[];
      expect(tags.map((t) => t.d)).toEqual([sha256(small)]);
      await expectUsage('tmf', layer.size + small.length);
      // The same manifest again (a client's retry) adds nothing and passes.
      await putManifest('tmf/app', 'v2', small);
    });

    it('a proxied fill counts only under a rule naming its namespace literally', async () => {
      await links.linkBlob({ repository: 'tproxy/lib', digest: digestOf(300), size: 5000, proxied: true });
      expect(await linked('tproxy/lib', digestOf(300))).toBe(true); // 't*' does not hold a proxy
      await links.linkBlob({ repository: 'hub/library/x', digest: digestOf(301), size: 1000, proxied: true });
      await refusal(
        links.linkBlob({ repository: 'hub/library/x', digest: digestOf(302), size: 100, proxied: true }),
      );
    });

    it('20 racing links for the last bytes: exactly those that fit succeed, usage never over the limit', async () => {
      await links.linkBlob({ repository: 'race/base', digest: digestOf(400), size: 10240 - 5 * 512 });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          links.linkBlob({ repository: `race/r${i % 4}`, digest: digestOf(401 + i), size: 512 }),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
      for (const r of results)
        if (r.status === 'rejected') expect((r.reason as RegistryError).code).toBe('DENIED');
      await expectUsage('race', 10240);
      const listed = await listNamespaceUsage(ds, rules);
      expect(listed.find((u) => u.namespace === 'race')).toEqual({
        namespace: 'race',
        bytes: 10240,
        limit: 10240,
        rule: `${FILE} line 2`,
      });
    });
  });
});
