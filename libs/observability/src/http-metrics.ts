import type { IncomingMessage } from 'node:http';
import { metrics, type Buckets, type MetricsRegistry } from './metrics';

/** Seconds; request latencies from a cached manifest (sub-ms) to a large blob (a minute). */
const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

const ROUTE = Symbol.for('wharf.metrics.route');

/**
 * The handler that recognised the request names its route template (`manifest`, `blob`, `upload`,
 * …), never the path: repository names and digests would make a series per image.
 */
export function setRouteLabel(req: IncomingMessage, route: string): void {
  (req as IncomingMessage & { [ROUTE]?: string })[ROUTE] = route;
}

/** Requests no handler labelled: health, metrics, token and internal routes by fixed prefixes. */
export function routeLabelOf(req: IncomingMessage): string {
  const own = (req as IncomingMessage & { [ROUTE]?: string })[ROUTE];
  if (own) return own;
  const url = req.url ?? '';
  if (url.startsWith('/internal/')) {
    if (url.startsWith('/internal/rpc/')) return 'internal_rpc';
    if (url.startsWith('/internal/blob/uploads/')) return 'internal_upload';
    if (url.startsWith('/internal/blob/blobs/')) return 'internal_blob';
    return 'internal_other';
  }
  if (url.startsWith('/v2')) return 'v2_other';
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  switch (path) {
    case '/healthz':
    case '/readyz':
    case '/metrics':
      return path.slice(1);
    case '/auth/token':
      return 'token';
    case '/auth/jwks.json':
      return 'jwks';
    default:
      return 'other';
  }
}

interface Series {
  requests: { value: number };
  duration: Buckets;
  received: { value: number };
  sent: { value: number };
}

/** RED per route and status, bytes in and out, requests in flight. */
export class HttpMetrics {
  readonly requests;
  readonly duration;
  readonly received;
  readonly sent;
  /** Read at scrape time: a plain number is the cheapest thing to bump twice per request. */
  inFlight = 0;
  /** Every family's series for one route, method and status, found with one key per request. */
  private readonly series = new Map<string, Series>();

  constructor(registry: MetricsRegistry = metrics) {
    this.requests = registry.counter(
      'wharf_http_requests_total',
      'HTTP requests answered, by route template, method and status (status "aborted": the client left first).',
      ['route', 'method', 'status'],
    );
    this.duration = registry.histogram(
      'wharf_http_request_duration_seconds',
      'Time from request headers to the last byte of the response, by route template, method and status.',
      ['route', 'method', 'status'],
      LATENCY_BUCKETS,
    );
    this.received = registry.counter(
      'wharf_http_received_bytes_total',
      'Request body bytes received (blob chunks, manifests), by route template.',
      ['route'],
    );
    this.sent = registry.counter(
      'wharf_http_sent_bytes_total',
      'Response bytes sent (headers and body), by route template.',
      ['route'],
    );
    registry.registerGauge(
      'wharf_http_requests_in_flight',
      'HTTP requests being served now.',
      () => this.inFlight,
    );
  }

  record(
    route: string,
    method: string,
    status: string,
    seconds: number,
    bytesIn: number,
    bytesOut: number,
  ): void {
    const key = `${route} ${method} ${status}`;
    let s = this.series.get(key);
    if (!s) {
      const labels = [route, method, status];
      s = {
        requests: this.requests.seriesFor(labels),
        duration: this.duration.seriesFor(labels),
        received: this.received.seriesFor([route]),
        sent: this.sent.seriesFor([route]),
      };
      this.series.set(key, s);
    }
    s.requests.value++;
    this.duration.observeInto(s.duration, seconds);
    s.received.value += bytesIn;
    s.sent.value += bytesOut;
  }
}

let shared: HttpMetrics | undefined;
export function httpMetrics(): HttpMetrics {
  return (shared ??= new HttpMetrics());
}
