/**
 * The pull-through cache's metadata against a real Postgres (a fresh database per run): fill leases
 * (one holder at a time, renewal, takeover after expiry, release only by the holder) and proxied
 * manifest PUTs, which need none of their references linked, beside ordinary pushes, which still do.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { DataSource } from 'typeorm';
import type { BlobApi } from '@wharf/contracts';
import {
  MT_DOCKER_CONFIG,
  MT_DOCKER_LAYER,
  MT_DOCKER_MANIFEST,
  MT_OCI_INDEX,
  MT_OCI_MANIFEST,
  RegistryError,
  sha256,
} from '@wharf/oci';
import { BlobLinks } from './blob-links.service';
import type { CacheCoherence } from './coherence/cache-coherence';
import { NO_EVENTS } from './events/outbox';
import { GC_DEFAULTS } from './gc/gc-options';
import { ManifestReads } from './manifest-reads';
import { ManifestWrites } from './manifest-writes';
import { openMetadataDataSource } from './metadata.module';
import { MetadataService } from './metadata.service';
import { ProxyFills } from './proxy-fills';
import { NO_READ_CACHE } from './read-cache';
import { NO_SCHEMA1 } from './schema1.seam';

const pgEnv = {
  ...process.env,
  PGHOST: process.env.PGHOST ?? '127.0.0.1',
  PGUSER: process.env.PGUSER ?? 'postgres',
};
const dbName = `wharf_proxy_fills_${randomBytes(6).toString('hex')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const CONFIG = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
const LAYER = `sha256:${'1'.repeat(64)}`;
const dockerImage = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MT_DOCKER_MANIFEST,
    config: { mediaType: MT_DOCKER_CONFIG, digest: sha256(CONFIG), size: CONFIG.length },
    layers: [{ mediaType: MT_DOCKER_LAYER, digest: LAYER, size: 1234 }],
  }),
);
const CHILD = `sha256:${'2'.repeat(64)}`;
const index = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MT_OCI_INDEX,
    manifests: [
      {
        mediaType: MT_OCI_MANIFEST,
        digest: CHILD,
        size: 500,
        platform: { architecture: 'amd64', os: 'linux' },
      },
    ],
  }),
);

/** The blob service holding only `present`; anything else is BLOB_UNKNOWN, as the real one says. */
function blobService(present: Buffer[] = []): Pick<BlobApi, 'openBlob'> {
  const held = new Map(present.map((b) => [sha256(b), b]));
  return {
    openBlob: async ({ digest }: { digest: string }) => {
      const body = held.get(digest);
      if (!body) throw new RegistryError('BLOB_UNKNOWN', undefined, { digest });
      return Readable.from([body]);
    },
  };
}

const noCoherence: CacheCoherence = { record: async () => '0', settle: async () => undefined };

describe('pull-through cache metadata (Postgres)', () => {
  let ds: DataSource;

  const service = (blobs = blobService()): MetadataService => {
    const writes = new ManifestWrites(ds, blobs as BlobApi, noCoherence, NO_SCHEMA1, NO_EVENTS, GC_DEFAULTS);
    const reads = new ManifestReads(ds, NO_READ_CACHE, NO_SCHEMA1, NO_EVENTS);
    const links = new BlobLinks(ds, NO_READ_CACHE, noCoherence, NO_EVENTS, GC_DEFAULTS);
    return new MetadataService(reads, writes, links, new ProxyFills(ds));
  };

  const rowsOf = async (table: string, column: string, repository: string): Promise<string[]> => {
    const rows = (await ds.query(
      `SELECT t.${column} AS d FROM metadata.${table} t JOIN metadata.repositories r ON r.id = t.repository_id
       WHERE r.name = $1 ORDER BY 1`,
      [repository],
    )) as { d: string }[];
    return rows.map((r) => r.d);
  };

  beforeAll(async () => {
    execFileSync('createdb', [dbName], { env: pgEnv });
    ds = await openMetadataDataSource({
      databaseUrl: `postgres://${pgEnv.PGUSER}@${pgEnv.PGHOST}:5432/${dbName}`,
      poolSize: 6,
      timeoutMs: 10_000,
    });
  });

  afterAll(async () => {
    await ds?.destroy();
    execFileSync('dropdb', ['--force', '--if-exists', dbName], { env: pgEnv });
  });

  describe('fill leases', () => {
    beforeEach(async () => {
      await ds.query('DELETE FROM metadata.proxy_fills');
    });

    it('a key nobody holds is claimed', async () => {
      expect(await service().claimFill({ key: 'k1', holder: 'gw-a', ttlMs: 30_000 })).toEqual({
        claimed: true,
      });
    });

    it('another holder is refused while the lease runs; the holder itself renews it', async () => {
      const svc = service();
      expect((await svc.claimFill({ key: 'k2', holder: 'gw-a', ttlMs: 30_000 })).claimed).toBe(true);
      expect((await svc.claimFill({ key: 'k2', holder: 'gw-b', ttlMs: 30_000 })).claimed).toBe(false);
      const [before] = (await ds.query(`SELECT expires_at FROM metadata.proxy_fills WHERE key = 'k2'`)) as {
        expires_at: Date;
      }[];
      expect((await svc.claimFill({ key: 'k2', holder: 'gw-a', ttlMs: 60_000 })).claimed).toBe(true);
      const [after] = (await ds.query(
        `SELECT holder, expires_at FROM metadata.proxy_fills WHERE key = 'k2'`,
      )) as {
        holder: string;
        expires_at: Date;
      }[];
      expect(after.holder).toBe('gw-a');
      expect(after.expires_at.getTime()).toBeGreaterThan(before.expires_at.getTime());
      expect((await svc.claimFill({ key: 'k2', holder: 'gw-b', ttlMs: 30_000 })).claimed).toBe(false);
    });

    it('once the lease has run out another holder takes it over, and the old one is refused', async () => {
      const svc = service();
      expect((await svc.claimFill({ key: 'k3', holder: 'gw-a', ttlMs: 50 })).claimed).toBe(true);
      await sleep(120);
      expect((await svc.claimFill({ key: 'k3', holder: 'gw-b', ttlMs: 30_000 })).claimed).toBe(true);
      expect((await svc.claimFill({ key: 'k3', holder: 'gw-a', ttlMs: 30_000 })).claimed).toBe(false);
    });

    it('only the holder releases; then the key is free for anyone', async () => {
      const svc = service();
      await svc.claimFill({ key: 'k4', holder: 'gw-a', ttlMs: 30_000 });
      await svc.releaseFill({ key: 'k4', holder: 'gw-b' });
      expect((await svc.claimFill({ key: 'k4', holder: 'gw-b', ttlMs: 30_000 })).claimed).toBe(false);
      await svc.releaseFill({ key: 'k4', holder: 'gw-a' });
      expect((await svc.claimFill({ key: 'k4', holder: 'gw-b', ttlMs: 30_000 })).claimed).toBe(true);
      // A late release by the old holder leaves the new holder's lease alone.
      await svc.releaseFill({ key: 'k4', holder: 'gw-a' });
      expect((await svc.claimFill({ key: 'k4', holder: 'gw-c', ttlMs: 30_000 })).claimed).toBe(false);
    });

    it('releasing a key nobody holds is not an error', async () => {
      await expect(service().releaseFill({ key: 'nothing', holder: 'gw-a' })).resolves.toBeUndefined();
    });

    it('of many gateways claiming one key at once, exactly one gets it', async () => {
      const svc = service();
      const claims = await Promise.all(
        Array.from({ length: 6 }, (_, i) => svc.claimFill({ key: 'k5', holder: `gw-${i}`, ttlMs: 30_000 })),
      );
      expect(claims.filter((c) => c.claimed)).toHaveLength(1);
    });
  });

  describe('proxied manifest PUT', () => {
    it('stores a manifest whose config and layers are absent, and reads it back by tag', async () => {
      const svc = service();
      const repository = 'hub/library/nginx';
      const put = await svc.putManifest({
        repository,
        reference: 'latest',
        contentType: MT_DOCKER_MANIFEST,
        body: dockerImage,
        proxied: true,
      });
      expect(put).toEqual({ digest: sha256(dockerImage) });
      const got = await svc.getManifest({
        repository,
        reference: 'latest',
        accept: [MT_DOCKER_MANIFEST],
        head: false,
      });
      expect(got).toMatchObject({
        digest: sha256(dockerImage),
        mediaType: MT_DOCKER_MANIFEST,
        size: dockerImage.length,
      });
      expect(got.body?.equals(dockerImage)).toBe(true);
      // The references are recorded all the same: GC and later fills see what the manifest holds.
      expect(await rowsOf('manifest_blobs', 'blob_digest', repository)).toEqual(
        [LAYER, sha256(CONFIG)].sort(),
      );
      const [row] = (await ds.query(`SELECT config FROM metadata.manifests WHERE digest = $1`, [
        sha256(dockerImage),
      ])) as { config: Buffer | null }[];
      expect(row.config).toBeNull();
      expect(await rowsOf('blob_links', 'digest', repository)).toEqual([]);
    });

    it('keeps the config when the blob service already holds it', async () => {
      const repository = 'hub/library/redis';
      await service(blobService([CONFIG])).putManifest({
        repository,
        reference: sha256(dockerImage),
        contentType: MT_DOCKER_MANIFEST,
        body: dockerImage,
        proxied: true,
      });
      const [row] = (await ds.query(
        `SELECT m.config FROM metadata.manifests m JOIN metadata.repositories r ON r.id = m.repository_id
         WHERE r.name = $1`,
        [repository],
      )) as { config: Buffer | null }[];
      expect(row.config?.equals(CONFIG)).toBe(true);
    });

    it('stores an index whose child manifests are absent, and reads it back by digest', async () => {
      const svc = service();
      const repository = 'hub/library/alpine';
      const digest = sha256(index);
      await svc.putManifest({
        repository,
        reference: digest,
        contentType: MT_OCI_INDEX,
        body: index,
        proxied: true,
      });
      const got = await svc.getManifest({
        repository,
        reference: digest,
        accept: [MT_OCI_INDEX],
        head: false,
      });
      expect(got).toMatchObject({ digest, mediaType: MT_OCI_INDEX });
      expect(got.body?.equals(index)).toBe(true);
      expect(await rowsOf('manifest_children', 'child_digest', repository)).toEqual([CHILD]);
    });

    it('an ordinary push of the same manifests still answers MANIFEST_BLOB_UNKNOWN for each reference', async () => {
      const svc = service();
      const repository = 'team/app';
      const image = await svc
        .putManifest({ repository, reference: 'v1', contentType: MT_DOCKER_MANIFEST, body: dockerImage })
        .catch((e: unknown) => e);
      expect(image).toBeInstanceOf(RegistryError);
      expect((image as RegistryError).code).toBe('MANIFEST_BLOB_UNKNOWN');
      expect(
        (image as RegistryError).errors.map((e) => (e.detail as { digest: string }).digest).sort(),
      ).toEqual([LAYER, sha256(CONFIG)].sort());
      const list = await svc
        .putManifest({ repository, reference: 'v2', contentType: MT_OCI_INDEX, body: index, proxied: false })
        .catch((e: unknown) => e);
      expect((list as RegistryError).code).toBe('MANIFEST_BLOB_UNKNOWN');
      await expect(
        svc.getManifest({ repository, reference: 'v1', accept: [MT_DOCKER_MANIFEST], head: true }),
      ).rejects.toMatchObject({ code: expect.stringMatching(/UNKNOWN/) });
    });
  });
});
