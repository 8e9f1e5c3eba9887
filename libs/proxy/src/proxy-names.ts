import type { ProxyConfig, UpstreamConfig } from './proxy-config';

/** A local repository that mirrors a repository of an upstream. */
export interface ProxyTarget {
  upstream: UpstreamConfig;
  /** The repository here: `<upstream name>/<path>`, what access control and storage see. */
  local: string;
  /** The repository on the upstream. */
  remote: string;
  /** Set for containerd's mirror form (`?ns=<host>`): answered back as `OCI-Namespace`. */
  namespace?: string;
}

/**
 * Which local names are mirrors of which upstream, in the three ways a client can ask: the prefix
 * form (`hub/nginx`), containerd's mirror form (`library/nginx?ns=docker.io`) and Docker's daemon-level
 * mirror (`library/nginx` with no hint, served by the upstream marked `default`).
 */
export class ProxyNames {
  private readonly byName = new Map<string, UpstreamConfig>();
  private readonly byHost = new Map<string, UpstreamConfig>();
  readonly fallback: UpstreamConfig | undefined;

  constructor(readonly config: ProxyConfig) {
    for (const u of config.upstreams) {
      this.byName.set(u.name, u);
      for (const h of u.hosts) this.byHost.set(h.toLowerCase(), u);
    }
    this.fallback = config.upstreams.find((u) => u.default);
  }

  get upstreams(): readonly UpstreamConfig[] {
    return this.config.upstreams;
  }

  /** The prefix form: `hub/<path>` is `<path>` on upstream `hub`; anything else is no mirror. */
  forLocal(name: string): ProxyTarget | undefined {
    const slash = name.indexOf('/');
    if (slash < 0) return undefined;
    const upstream = this.byName.get(name.slice(0, slash));
    if (!upstream) return undefined;
    const path = name.slice(slash + 1);
    return { upstream, local: name, remote: remotePath(upstream, path) };
  }

  /** containerd's mirror form: the path as the client named it, under the upstream serving `host`. */
  forNamespace(host: string, path: string): ProxyTarget | undefined {
    const upstream = this.byHost.get(host.toLowerCase());
    if (!upstream) return undefined;
    return {
      upstream,
      local: `${upstream.name}/${path}`,
      remote: remotePath(upstream, path),
      namespace: host,
    };
  }

  /** Docker's registry-mirrors: a name outside every prefix, served by the default upstream. */
  forUnprefixed(name: string): ProxyTarget | undefined {
    if (!this.fallback || this.forLocal(name)) return undefined;
    const upstream = this.fallback;
    return { upstream, local: `${upstream.name}/${name}`, remote: remotePath(upstream, name) };
  }
}

function remotePath(upstream: UpstreamConfig, path: string): string {
  return upstream.defaultNamespace && !path.includes('/') ? `${upstream.defaultNamespace}/${path}` : path;
}
