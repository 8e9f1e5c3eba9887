/**
 * Immutable tags against a real Postgres (a fresh database per run), through ManifestWrites as the
 * metadata service runs them: a held tag is created once and never moved or deleted, nor is a
 * manifest it points to; the same digest again passes; proxied puts and other tags are free; of
 * concurrent first pushes with different digests exactly one wins.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { DataSource } from 'typeorm';
import type { BlobApi } from '@wharf/contracts';
import { MT_OCI_CONFIG, MT_OCI_LAYER, MT_OCI_MANIFEST, RegistryError, sha256 } from '@wharf/oci';
import { BlobLinks } from '../blob-links.service';
import type { CacheCoherence } from '../coherence/cache-coherence';
import { NO_EVENTS } from '../events/outbox';
import { GC_DEFAULTS } from '../gc/gc-options';
import { ManifestWrites } from '../manifest-writes';
import { openMetadataDataSource } from '../metadata.module';
import { NO_READ_CACHE } from '../read-cache';
import { NO_SCHEMA1 } from '../schema1.seam';
import { parseRules, type Rules } from './rules-file';

const pgEnv = {
  ...process.env,
  PGHOST: process.env.PGHOST ?? '127.0.0.1',
  PGUSER: process.env.PGUSER ?? 'postgres',
};
const dbName = `wharf_immutable_${randomBytes(6).toString('hex')}`;
const FILE = '/etc/wharf/rules.yaml';
const RULES = `immutable:
  - repositories: ['release/**']
    tags: ['v*']
  - repositories: ['hub/**']
    tags: ['*']
`;

const CONFIG = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
const LAYER = Buffer.from('layer bytes');
/** An image over the same blobs; `n` makes its digest its own. */
const image = (n: number): Buffer =>
  Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT_OCI_MANIFEST,
      config: { mediaType: MT_OCI_CONFIG, digest: sha256(CONFIG), size: CONFIG.length },
      layers: [{ mediaType: MT_OCI_LAYER, digest: sha256(LAYER), size: LAYER.length }],
      annotations: { n: String(n) },
    }),
  );

const blobService: Pick<BlobApi, 'openBlob'> = {
  openBlob: async ({ digest }: { digest: string }) => {
    if (digest !== sha256(CONFIG)) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest });
    return Readable.from([CONFIG]);
  },
};
const noCoherence: CacheCoherence = { record: async () => '0', settle: async () => undefined };

describe('immutable tags (Postgres)', () => {
  let ds: DataSource;
  let writes: ManifestWrites;
  let rules: Rules;

  const put = (repository: string, reference: string, body: Buffer, proxied?: boolean) =>
    writes.putManifest({
      repository,
      reference,
      contentType: MT_OCI_MANIFEST,
      body,
      ...(proxied ? { proxied } : {}),
    });
  const del = (repository: string, reference: string) => writes.deleteManifest({ repository, reference });
  const refusal = async (p: Promise<unknown>): Promise<RegistryError> => {
    const e = await p.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(RegistryError);
    return e as RegistryError;
  };
  const tagOf = async (repository: string, tag: string): Promise<string | undefined> => {
    const rows = (await ds.query(
      `SELECT t.manifest_digest AS d FROM metadata.tags t JOIN metadata.repositories r ON r.id = t.repository_id
       WHERE r.name = $1 AND t.name = $2`,
      [repository, tag],
    )) as { d: string }[];
    return rows[0]?.d;
  };
  const hasManifest = async (repository: string, digest: string): Promise<boolean> => {
    const rows = (await ds.query(
      `SELECT 1 FROM metadata.manifests m JOIN metadata.repositories r ON r.id = m.repository_id
       WHERE r.name = $1 AND m.digest = $2`,
      [repository, digest],
    )) as unknown[];
    return rows.length > 0;
  };
  const repo = async (name: string): Promise<string> => {
    const links = new BlobLinks(ds, NO_READ_CACHE, noCoherence, NO_EVENTS, GC_DEFAULTS);
    for (const b of [CONFIG, LAYER])
      await links.linkBlob({ repository: name, digest: sha256(b), size: b.length });
    return name;
  };

  beforeAll(async () => {
    execFileSync('createdb', [dbName], { env: pgEnv });
    ds = await openMetadataDataSource({
      databaseUrl: `postgres://${pgEnv.PGUSER}@${pgEnv.PGHOST}:5432/${dbName}`,
      poolSize: 12,
      timeoutMs: 10_000,
    });
    writes = new ManifestWrites(ds, blobService as BlobApi, noCoherence, NO_SCHEMA1, NO_EVENTS, GC_DEFAULTS, {
      current: async () => rules,
    });
  });

  beforeEach(() => {
    rules = parseRules(RULES, FILE);
  });

  afterAll(async () => {
    await ds?.destroy();
    execFileSync('dropdb', ['--force', '--if-exists', dbName], { env: pgEnv });
  });

  it('creates a held tag, accepts the same digest again and refuses another, naming rule and tag', async () => {
    const r = await repo('release/app');
    const first = await put(r, 'v1', image(1));
    expect(await put(r, 'v1', image(1))).toEqual(first);
    const e = await refusal(put(r, 'v1', image(2)));
    expect([e.code, e.status]).toEqual(['DENIED', 403]);
    expect(e.message).toContain(`${FILE} line 2`);
    expect(e.message).toContain('release/app:v1');
    expect(e.errors[0].detail).toEqual({ repository: r, tag: 'v1', rule: `${FILE} line 2` });
    expect(await tagOf(r, 'v1')).toBe(first.digest);
    // The refused manifest went with its transaction.
    expect(await hasManifest(r, sha256(image(2)))).toBe(false);
  });

  it('re-pushing the same digest sets the tag again (its push time moves)', async () => {
    const r = await repo('release/again');
    await put(r, 'v1', image(1));
    const at = async () =>
      (
        (await ds.query(
          `SELECT updated_at FROM metadata.tags WHERE name = 'v1' AND repository_id =
        (SELECT id FROM metadata.repositories WHERE name = $1)`,
          [r],
        )) as { updated_at: Date }[]
      )[0].updated_at;
    const before = await at();
    await new Promise((res) => setTimeout(res, 20));
    await put(r, 'v1', image(1));
    expect((await at()).getTime()).toBeGreaterThan(before.getTime());
  });

  it('leaves tags and repositories no rule holds free to move and go', async () => {
    const r = await repo('release/free');
    await put(r, 'latest', image(1));
    await put(r, 'latest', image(2));
    expect(await tagOf(r, 'latest')).toBe(sha256(image(2)));
    await del(r, 'latest');
    expect(await tagOf(r, 'latest')).toBeUndefined();
    const other = await repo('team/app');
    await put(other, 'v1', image(1));
    await put(other, 'v1', image(2));
    await del(other, 'v1');
    await del(other, sha256(image(1)));
    expect(await hasManifest(other, sha256(image(1)))).toBe(false);
  });

  it('refuses to delete a held tag, and answers an absent one as unknown', async () => {
    const r = await repo('release/del');
    const { digest } = await put(r, 'v1', image(1));
    const e = await refusal(del(r, 'v1'));
    expect([e.code, e.message]).toEqual(['DENIED', expect.stringContaining(`${FILE} line 2`)]);
    expect(await tagOf(r, 'v1')).toBe(digest);
    expect((await refusal(del(r, 'v9'))).code).toBe('MANIFEST_UNKNOWN');
  });

  it('refuses to delete a manifest a held tag points to; one held by ordinary tags only goes', async () => {
    const r = await repo('release/mdel');
    const held = await put(r, 'v1', image(1));
    await put(r, 'latest', image(1));
    const e = await refusal(del(r, held.digest));
    expect([e.code, e.message]).toEqual(['DENIED', expect.stringMatching(/release\/mdel:v1 is immutable/)]);
    expect(await hasManifest(r, held.digest)).toBe(true);
    expect(await tagOf(r, 'latest')).toBe(held.digest);
    const free = await put(r, 'latest', image(2));
    await del(r, free.digest);
    expect(await hasManifest(r, free.digest)).toBe(false);
    expect((await refusal(del(r, sha256(image(99))))).code).toBe('MANIFEST_UNKNOWN');
  });

  it('does not apply to proxied puts: a mirror follows its upstream', async () => {
    await put('hub/library/nginx', 'stable', image(1), true);
    await put('hub/library/nginx', 'stable', image(2), true);
    expect(await tagOf('hub/library/nginx', 'stable')).toBe(sha256(image(2)));
  });

  it('holds a tag set before the rule came, and lets it go once the rule is gone', async () => {
    rules = parseRules('', FILE);
    const r = await repo('release/late');
    await put(r, 'v1', image(1));
    await put(r, 'v1', image(2));
    rules = parseRules(RULES, FILE);
    expect((await refusal(put(r, 'v1', image(3)))).code).toBe('DENIED');
    expect((await refusal(del(r, 'v1'))).code).toBe('DENIED');
    rules = parseRules('', FILE);
    await put(r, 'v1', image(3));
    await del(r, 'v1');
    expect(await tagOf(r, 'v1')).toBeUndefined();
  });

  it('of concurrent first pushes of a held tag with different digests, exactly one wins', async () => {
    const r = await repo('release/race');
    for (let round = 0; round < 5; round++) {
      const tag = `v${round}`;
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => put(r, tag, image(100 * round + i))),
      );
      const won = results.flatMap((x, i) => (x.status === 'fulfilled' ? [i] : []));
      const lost = results.flatMap((x) => (x.status === 'rejected' ? [x.reason as RegistryError] : []));
      expect(won).toHaveLength(1);
      expect(lost.map((e) => e.code)).toEqual(Array(7).fill('DENIED'));
      expect(await tagOf(r, tag)).toBe(sha256(image(100 * round + won[0])));
    }
  });

  it('concurrent pushes of one digest onto a new held tag all pass', async () => {
    const r = await repo('release/same');
    const results = await Promise.all(Array.from({ length: 6 }, () => put(r, 'v1', image(7))));
    expect(new Set(results.map((x) => x.digest))).toEqual(new Set([sha256(image(7))]));
  });

  it('a manifest delete racing a held tag being set on it never takes the tag along', async () => {
    const r = await repo('release/delrace');
    for (let round = 0; round < 6; round++) {
      const body = image(1000 + round);
      const { digest } = await put(r, `dev${round}`, body);
      const [tagged, deleted] = await Promise.allSettled([put(r, `v${round}`, body), del(r, digest)]);
      if (tagged.status === 'fulfilled') expect(await tagOf(r, `v${round}`)).toBe(digest);
      if (deleted.status === 'rejected') expect((deleted.reason as RegistryError).code).toBe('DENIED');
    }
  });
});
