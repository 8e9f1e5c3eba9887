import { MetadataInit1764320000000 } from './1764320000000-init';
import { MetadataManifestConfig1764500000000 } from './1764500000000-manifest-config';

/** In order. Each one stays compatible with the release before it (rolling upgrades). */
export const METADATA_MIGRATIONS = [MetadataInit1764320000000, MetadataManifestConfig1764500000000];
