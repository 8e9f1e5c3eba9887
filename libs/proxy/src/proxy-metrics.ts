import { metrics } from '@wharf/observability';

/** What the pull-through cache reports per upstream (README, "Pull-through cache"). */
export class ProxyMetrics {
  /** hit: answered from what is stored; miss: fetched from the upstream; stale: a tag past its TTL served because the upstream failed. */
  readonly requests = metrics.counter(
    'wharf_proxy_requests_total',
    'Pull-through requests by upstream and result (hit, miss, stale)',
    ['upstream', 'result'],
  );
  readonly bytes = metrics.counter(
    'wharf_proxy_upstream_bytes_total',
    'Blob bytes fetched from each upstream',
    ['upstream'],
  );
  readonly errors = metrics.counter(
    'wharf_proxy_upstream_errors_total',
    'Failed upstream requests by upstream and failure (not-found, rate-limited, unavailable, denied, corrupt)',
    ['upstream', 'failure'],
  );

  hit(upstream: string): void {
    this.requests.inc([upstream, 'hit']);
  }
  miss(upstream: string): void {
    this.requests.inc([upstream, 'miss']);
  }
  stale(upstream: string): void {
    this.requests.inc([upstream, 'stale']);
  }
}
