import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { httpMetrics, routeLabelOf } from './http-metrics';
import { serveMetrics } from './metrics-server';
import {
  REQUEST_ID_HEADER,
  TRACEPARENT_HEADER,
  acceptRequestId,
  newRequestId,
  runInContext,
  type RequestContext,
} from './request-context';
import { contextFor, endSpan, tracingEnabled } from './tracing';

export interface AccessLog {
  isLevelEnabled(level: string): boolean;
  debug(obj: object, msg: string): void;
}

export interface InstrumentOptions {
  /**
   * The client-facing server (gateway, all-in-one). A well-formed X-Request-Id from the client (or
   * its ingress) is kept, so one id joins the proxy's logs to ours, and echoed back; otherwise the
   * id is made here. Internal ports take the caller's id as is.
   */
  edge: boolean;
  /** Answer `GET /metrics` here (WHARF_METRICS_ADDR unset: the HTTP port serves it). */
  serveMetrics: boolean;
  /**
   * Run each request inside its request context (AsyncLocalStorage), so calls to other services
   * carry its id and trace and every log line its `reqId`. The distributed services need it; the
   * all-in-one calls nobody, and on Node 20 an active AsyncLocalStorage puts a hook on every
   * promise of the process, so there only the access log line and the response carry the id.
   */
  context: boolean;
  /** One debug line per request, carrying the request id. */
  log?: AccessLog;
}

type Listener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Wraps the server's request listener (Fastify's), so every request of every service, whatever
 * framework route serves it, runs inside its request context and is counted once, and `/metrics`
 * is answered before any routing or auth. Call before the server listens.
 */
export function instrumentHttpServer(server: Server, opts: InstrumentOptions): void {
  const listeners = server.listeners('request') as Listener[];
  server.removeAllListeners('request');
  const m = httpMetrics();
  const log = opts.log?.isLevelEnabled('debug') ? opts.log : undefined;
  // Nobody would read an id or a span: the all-in-one without tracing or debug logs only counts.
  const needsContext = opts.context || log !== undefined || tracingEnabled();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (opts.serveMetrics && req.url === '/metrics') {
      serveMetrics(req, res);
      return;
    }
    const started = performance.now();
    const socket = req.socket;
    const written0 = socket.bytesWritten;
    const body = hasBody(req) ? countBody(req) : undefined;
    const own = acceptRequestId(req.headers[REQUEST_ID_HEADER]);
    // Echoed only when the client (or its ingress) chose it: an extra header on every response
    // costs the manifest GET measurably (Node's writeHead then merges header by header).
    if (own && opts.edge) res.setHeader(REQUEST_ID_HEADER, own);
    const ctx = needsContext ? contextOf(req, own) : undefined;
    m.inFlight++;
    res.once('close', () => {
      m.inFlight--;
      const route = routeLabelOf(req);
      const status = res.writableFinished ? String(res.statusCode) : 'aborted';
      const seconds = (performance.now() - started) / 1000;
      // What this response added to the connection's write counter: headers and body.
      const out = socket.bytesWritten - written0;
      m.record(route, req.method ?? 'OTHER', status, seconds, body?.bytes ?? 0, out);
      if (ctx?.span) {
        ctx.span.updateName(`${req.method} ${route}`);
        ctx.span.setAttributes({
          'http.request.method': req.method ?? '',
          'http.route': route,
          'http.response.status_code': res.statusCode,
        });
        endSpan(ctx.span, res.statusCode >= 500 || status === 'aborted' ? status : undefined);
      }
      // 'close' fires outside the request's context, so the id is given here, not by the mixin.
      log?.debug(
        { reqId: ctx?.requestId, route, method: req.method, status, ms: Math.round(seconds * 1e4) / 10 },
        'request',
      );
    });
    if (opts.context && ctx) {
      runInContext(ctx, () => {
        for (const l of listeners) l.call(server, req, res);
      });
    } else {
      for (const l of listeners) l.call(server, req, res);
    }
  });
}

function hasBody(req: IncomingMessage): boolean {
  const h = req.headers;
  return (
    h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0')
  );
}

/**
 * Counts the body as the HTTP parser hands it to the request stream (de-chunked), without a
 * 'data' listener that would change how the handler consumes it. Socket counters cannot do this:
 * part of the body is often read in the same chunk as the headers, before the request starts.
 */
function countBody(req: IncomingMessage): { bytes: number } {
  const tally = { bytes: 0 };
  const push = req.push;
  req.push = function (chunk: unknown, encoding?: BufferEncoding): boolean {
    if (chunk) tally.bytes += (chunk as Buffer).length;
    return push.call(this, chunk, encoding);
  };
  return tally;
}

function contextOf(req: IncomingMessage, own: string | undefined): RequestContext {
  const tp = req.headers[TRACEPARENT_HEADER];
  return contextFor(
    own ?? newRequestId(),
    typeof tp === 'string' ? tp : undefined,
    req.method ?? 'HTTP',
    'server',
  );
}
