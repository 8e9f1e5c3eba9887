/**
 * The usual arrangement of the cache tests: Distribution 2.8 (htpasswd) behind two taps, and a Wharf
 * whose proxy config names it twice:
 * - `d28`: prefix `d28/<path>`, `?ns=d28.test`, default tag TTL;
 * - `short`: prefix `short/<path>` with defaultNamespace `lib` (`short/app` is `lib/app` upstream),
 *   `?ns=` by its default host (the tap's host:port), tag TTL {@link SHORT_TTL_MS}, and `default`: the
 *   upstream of names outside every prefix that no local repository has (Docker's registry-mirrors).
 */
import { UpstreamTap } from './upstream-tap';
import { startDistributionUpstream, type DistributionUpstream } from './upstreams';
import { startProxyWharf, type ProxyWharf, type Shape } from './wharf';

export const SHORT_TTL_MS = 2000;
export const D28_NS = 'd28.test';

export interface DistWorld {
  dist: DistributionUpstream;
  /** In front of Distribution for upstream `d28`. */
  tap: UpstreamTap;
  /** In front of Distribution for upstream `short`. */
  shortTap: UpstreamTap;
  wharf: ProxyWharf;
  /** Both taps back to normal, counts cleared. */
  reset(): void;
  dispose(): Promise<void>;
}

export async function startDistWorld(opts: { shape?: Shape } = {}): Promise<DistWorld> {
  const dist = await startDistributionUpstream();
  const tap = await UpstreamTap.start(dist.url);
  const shortTap = await UpstreamTap.start(dist.url);
  const creds = { username: dist.mirror.user, password: dist.mirror.password };
  let wharf: ProxyWharf;
  try {
    wharf = await startProxyWharf(
      [
        { name: 'd28', url: tap.url, hosts: [D28_NS], ...creds },
        {
          name: 'short',
          url: shortTap.url,
          defaultNamespace: 'lib',
          tagTTL: `${SHORT_TTL_MS}ms`,
          default: true,
          ...creds,
        },
      ],
      { shape: opts.shape },
    );
  } catch (e) {
    await tap.stop();
    await shortTap.stop();
    await dist.dispose();
    throw e;
  }
  return {
    dist,
    tap,
    shortTap,
    wharf,
    reset: () => {
      for (const t of [tap, shortTap]) {
        t.heal();
        t.resetCounts();
      }
    },
    dispose: async () => {
      await wharf.stop();
      await tap.stop();
      await shortTap.stop();
      await dist.dispose();
    },
  };
}

/** Upstream GETs of `digest` that the upstream answered 200 (the ones that moved the bytes). */
export function blobFetches(tap: UpstreamTap, digest: string): number {
  return tap.matching('GET', `/blobs/${digest}`).filter((r) => r.status === 200).length;
}

/** Every upstream request that is not a read: the cache must never send one. */
export function writesSeen(tap: UpstreamTap): string[] {
  return tap.requests.filter((r) => !['GET', 'HEAD'].includes(r.method)).map((r) => `${r.method} ${r.url}`);
}

/** `p`, or a failure naming `what` after `ms` (instead of the 5-minute test timeout). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
