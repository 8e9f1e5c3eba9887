import { MediaTypes } from './content';

/** The four kinds of artifact every client pushes and pulls. */
export type Kind = 'docker' | 'oci' | 'oci-index' | 'docker-list';

export interface KindInfo {
  kind: Kind;
  mediaType: string;
  isList: boolean;
  /** Value for the clients' --format flag. */
  format: 'v2s2' | 'oci';
}

export const KINDS: KindInfo[] = [
  { kind: 'docker', mediaType: MediaTypes.dockerManifest, isList: false, format: 'v2s2' },
  { kind: 'oci', mediaType: MediaTypes.ociManifest, isList: false, format: 'oci' },
  { kind: 'oci-index', mediaType: MediaTypes.ociIndex, isList: true, format: 'oci' },
  { kind: 'docker-list', mediaType: MediaTypes.dockerList, isList: true, format: 'v2s2' },
];
