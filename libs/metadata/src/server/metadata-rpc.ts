import {
  blobLinkToWire,
  descriptorToWire,
  listResultToWire,
  manifestResultToWire,
  type MetadataApi,
  type MetadataOps,
  type OpHandlers,
} from '@wharf/contracts';

/** The metadata service's side of the wire: each operation calls MetadataApi, nothing more. */
export function metadataRpcHandlers(api: MetadataApi, ping: () => Promise<void>): OpHandlers<MetadataOps> {
  return {
    ping: async () => {
      await ping();
      return { service: 'metadata' };
    },
    getManifest: async (req) => manifestResultToWire(await api.getManifest(req)),
    putManifest: async (req) => {
      const res = await api.putManifest(req);
      return { digest: res.digest, ...(res.subject ? { subject: res.subject } : {}) };
    },
    deleteManifest: async (req) => {
      await api.deleteManifest(req.repository, req.reference, req.event);
      return {};
    },
    listTags: async (req) =>
      listResultToWire(await api.listTags(req.repository, { n: req.n, last: req.last })),
    listRepositories: async (req) =>
      listResultToWire(await api.listRepositories({ n: req.n, last: req.last })),
    listReferrers: async (req) => ({
      manifests: (await api.listReferrers(req.repository, req.digest, req.artifactType)).map(
        descriptorToWire,
      ),
    }),
    statBlob: async (req) => ({
      link: blobLinkToWire(
        await api.statBlob(req.repository, req.digest, req.event, {
          // A gateway older than the `head` field says HEAD only in its event context (rolling upgrade).
          head: req.head ?? req.event?.request.method === 'HEAD',
        }),
      ),
    }),
    linkBlob: async (req) => {
      await api.linkBlob(req.repository, req.digest, req.size, req.event);
      return {};
    },
    unlinkBlob: async (req) => {
      await api.unlinkBlob(req.repository, req.digest, req.event);
      return {};
    },
    mountBlob: async (req) => ({
      link: blobLinkToWire(await api.mountBlob(req.repository, req.digest, req.from, req.event)),
    }),
  };
}
