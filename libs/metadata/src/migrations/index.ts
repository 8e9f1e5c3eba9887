import { MetadataInit1764320000000 } from './1764320000000-init';
import { MetadataManifestConfig1764500000000 } from './1764500000000-manifest-config';
import { MetadataGc1764600000000 } from './1764600000000-gc';
import { MetadataEvents1764700000000 } from './1764700000000-events';
import { MetadataGcUnlinked1764800000000 } from './1764800000000-gc-unlinked';
import { MetadataCacheCoherence1764900000000 } from './1764900000000-cache-coherence';
import { MetadataProxyFills1765000000000 } from './1765000000000-proxy-fills';
import { MetadataTagPulls1765100000000 } from './1765100000000-tag-pulls';
import { MetadataNamespaceUsage1765200000000 } from './1765200000000-namespace-usage';

/** In order. Each one stays compatible with the release before it (rolling upgrades). */
export const METADATA_MIGRATIONS = [
  MetadataInit1764320000000,
  MetadataManifestConfig1764500000000,
  MetadataGc1764600000000,
  MetadataEvents1764700000000,
  MetadataGcUnlinked1764800000000,
  MetadataCacheCoherence1764900000000,
  MetadataProxyFills1765000000000,
  MetadataTagPulls1765100000000,
  MetadataNamespaceUsage1765200000000,
];
