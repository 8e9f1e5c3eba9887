/**
 * Real-client checks of content served by the cache, reusing the real-clients suite's: skopeo
 * inspect --raw, HEAD/GET by tag and digest, every manifest and blob walked and hashed, and the
 * result equal to the fixture set as built (same digests: the cache changes no byte).
 */
import { expectMatchesBuilt, verifyServed } from '../../real-clients/checks';
import type { FixtureSet } from '../../real-clients/fixtures';
import type { KindInfo } from '../../real-clients/kinds';
import type { ClientSandbox } from '../../real-clients/tools';

export function expectedDigest(set: FixtureSet, kind: KindInfo['kind']): string {
  switch (kind) {
    case 'docker':
      return set.docker.manifestDigest;
    case 'oci':
      return set.oci.manifestDigest;
    case 'oci-index':
      return set.ociIndex.digest;
    case 'docker-list':
      return set.dockerList.digest;
  }
}

export async function checkKind(
  sb: ClientSandbox,
  registry: { url: string; host: string },
  repository: string,
  info: KindInfo,
  set: FixtureSet,
): Promise<void> {
  const digest = expectedDigest(set, info.kind);
  const summary = await verifyServed(sb, registry, { repository, tag: 'v1', digest }, info);
  expectMatchesBuilt(summary, info, set, true);
}
