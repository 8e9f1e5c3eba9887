import type {
  EventContext,
  ManifestGetRequest,
  ManifestResult,
  MetadataApi,
  PullRecord,
} from '@wharf/contracts';
import { blobUnlinked, repositoryChanged, tagChanged } from '@wharf/contracts';
import { CachingMetadataApi } from './caching-metadata';
import { PullForwarder } from './pull-forwarder';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const event: EventContext = {
  baseUrl: 'http://r',
  request: { id: '1', addr: 'a:1', host: 'r', method: 'GET', useragent: 'test' },
};

function fixture(usable = true) {
  let digest = D1;
  let mediaType = OCI;
  const calls: string[] = [];
  const inner = {
    getManifest: async (req: ManifestGetRequest): Promise<ManifestResult> => {
      calls.push(`get ${req.reference} ${req.head ? 'head' : 'get'}`);
      return { digest, mediaType, size: 2, ...(req.head ? {} : { body: Buffer.from('{}') }) };
    },
    statBlob: async (req: { head?: boolean }) => {
      calls.push(`stat ${req.head ? 'head' : 'get'}`);
      return { digest: D2, size: 5 };
    },
  } as unknown as MetadataApi;
  const sent: PullRecord[][] = [];
  const pulls = new PullForwarder(async (p) => void sent.push(p), 60_000);
  pulls.enabled = true;
  const lease = { usable: () => usable };
  const api = new CachingMetadataApi(inner, lease as never, pulls, { maxEntries: 100, maxBytes: 1 << 20 });
  return {
    api,
    calls,
    sent,
    pulls,
    setDigest: (d: string) => (digest = d),
    setMediaType: (m: string) => (mediaType = m),
    setUsable: (u: boolean) => (usable = u),
  };
}

const get = (reference: string, accept = [OCI], head = false): ManifestGetRequest => ({
  repository: 'r',
  reference,
  accept,
  head,
});

describe('CachingMetadataApi', () => {
  it('answers a tag from the cache per Accept, until the tag changes', async () => {
    const f = fixture();
    await f.api.getManifest(get('latest'));
    await f.api.getManifest(get('latest'));
    await f.api.getManifest(get('latest', ['*/*']));
    expect(f.calls).toEqual(['get latest get', 'get latest get']);
    f.setDigest(D2);
    f.api.apply([tagChanged('r', 'latest')]);
    expect((await f.api.getManifest(get('latest'))).digest).toBe(D2);
    expect((await f.api.getManifest(get('latest', ['*/*']))).digest).toBe(D2);
  });

  it('serves a HEAD from a cached GET, without the body', async () => {
    const f = fixture();
    await f.api.getManifest(get('latest'));
    const head = await f.api.getManifest(get('latest', [OCI], true));
    expect(head).toEqual({ digest: D1, mediaType: OCI, size: 2 });
    expect(f.calls).toHaveLength(1);
  });

  it('does not keep what a read found when the tag changed while it was reading', async () => {
    const f = fixture();
    const read = f.api.getManifest(get('latest'));
    f.api.apply([tagChanged('r', 'latest')]);
    await read;
    await f.api.getManifest(get('latest'));
    expect(f.calls).toHaveLength(2);
  });

  it('drops digests and links of a repository when anything in it is deleted', async () => {
    const f = fixture();
    await f.api.getManifest(get(D1));
    await f.api.statBlob({ repository: 'r', digest: D2 });
    f.api.apply([repositoryChanged('r')]);
    await f.api.getManifest(get(D1));
    await f.api.statBlob({ repository: 'r', digest: D2 });
    expect(f.calls).toEqual(['get ' + D1 + ' get', 'stat get', 'get ' + D1 + ' get', 'stat get']);
  });

  it('asks the service for every blob HEAD (it protects the blob from the collector)', async () => {
    const f = fixture();
    await f.api.statBlob({ repository: 'r', digest: D2, head: true });
    await f.api.statBlob({ repository: 'r', digest: D2, head: true });
    await f.api.statBlob({ repository: 'r', digest: D2 });
    await f.api.statBlob({ repository: 'r', digest: D2 });
    expect(f.calls).toEqual(['stat head', 'stat head', 'stat get']);
    f.api.apply([blobUnlinked('r', D2)]);
    await f.api.statBlob({ repository: 'r', digest: D2 });
    expect(f.calls).toHaveLength(4);
  });

  it('keeps no schema1 manifest (each is signed afresh)', async () => {
    const f = fixture();
    f.setMediaType('application/vnd.docker.distribution.manifest.v1+prettyjws');
    await f.api.getManifest(get('latest'));
    await f.api.getManifest(get('latest'));
    expect(f.calls).toHaveLength(2);
  });

  it('answers nothing from the cache while the lease is not usable', async () => {
    const f = fixture();
    await f.api.getManifest(get('latest'));
    f.setUsable(false);
    await f.api.getManifest(get('latest'));
    expect(f.calls).toHaveLength(2);
  });

  it('reports pulls it answered itself', async () => {
    const f = fixture();
    await f.api.getManifest({ ...get('latest'), event });
    await f.api.getManifest({ ...get('latest'), event });
    await f.api.statBlob({ repository: 'r', digest: D2, event });
    await f.api.statBlob({ repository: 'r', digest: D2, event });
    await f.pulls.flush();
    expect(f.sent).toEqual([
      [
        { repository: 'r', digest: D1, size: 2, mediaType: OCI, tag: 'latest', event },
        { repository: 'r', digest: D2, size: 5, event },
      ],
    ]);
  });
});
