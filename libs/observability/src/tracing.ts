import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { formatTraceparent, parseTraceparent, type RequestContext } from './request-context';

/**
 * OpenTelemetry traces, exported over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set. Parents are passed explicitly (the request context
 * carries the current span), so there is no OTel context manager: one AsyncLocalStorage per
 * process, not two. With no endpoint, nothing here creates a span: the request path pays one
 * `tracer === undefined` test.
 */
let provider: BasicTracerProvider | undefined;
let tracer: Tracer | undefined;

export function startTracing(serviceName: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (tracer) return true;
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT && !env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return false;
  if (env.OTEL_SDK_DISABLED === 'true') return false;
  provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || serviceName }),
    // The exporter reads the endpoint, headers and timeout from the OTEL_EXPORTER_OTLP_* variables.
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  tracer = provider.getTracer('wharf');
  return true;
}

/** Sends what is buffered and stops; part of every service's shutdown. */
export async function stopTracing(): Promise<void> {
  const p = provider;
  provider = undefined;
  tracer = undefined;
  await p?.shutdown().catch(() => undefined);
}

export function tracingEnabled(): boolean {
  return tracer !== undefined;
}

function parentOf(parent: Span | string | undefined): Context {
  if (parent === undefined) return ROOT_CONTEXT;
  if (typeof parent !== 'string') return trace.setSpan(ROOT_CONTEXT, parent);
  const p = parseTraceparent(parent);
  if (!p) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: p.traceId,
    spanId: p.spanId,
    traceFlags: p.flags,
    isRemote: true,
  });
}

/**
 * A span whose parent is a span of this process or a caller's traceparent; undefined when not
 * tracing.
 */
export function startSpan(
  name: string,
  kind: 'server' | 'client' | 'internal',
  parent: Span | string | undefined,
  attributes?: Attributes,
): Span | undefined {
  if (!tracer) return undefined;
  const k = kind === 'server' ? SpanKind.SERVER : kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL;
  return tracer.startSpan(name, { kind: k, attributes }, parentOf(parent));
}

export function traceparentOf(span: Span): string {
  const c = span.spanContext();
  return formatTraceparent(c.traceId, c.spanId, c.traceFlags);
}

export function endSpan(span: Span | undefined, error?: unknown): void {
  if (!span) return;
  if (error !== undefined)
    span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error)?.message ?? String(error) });
  span.end();
}

/**
 * The context for work that continues `parent` (an incoming request): its own span when tracing,
 * and the caller's traceparent passed on unchanged when not, so a traced caller's trace still
 * reaches traced services behind an untraced one.
 */
export function contextFor(
  requestId: string,
  incomingTraceparent: string | undefined,
  spanName: string,
  kind: 'server' | 'client',
  attributes?: Attributes,
): RequestContext {
  if (!tracer) {
    return {
      requestId,
      traceparent: parseTraceparent(incomingTraceparent) ? incomingTraceparent : undefined,
    };
  }
  // The request id on the span joins a trace to the log lines of every service it crossed.
  const span = startSpan(spanName, kind, incomingTraceparent, {
    ...attributes,
    'wharf.request_id': requestId,
  })!;
  return { requestId, span, traceparent: traceparentOf(span) };
}

/** A child context for one outgoing call, with its client span; the same context when not tracing. */
export function childContext(ctx: RequestContext, spanName: string, attributes?: Attributes): RequestContext {
  if (!tracer) return ctx;
  const span = startSpan(spanName, 'client', ctx.span ?? ctx.traceparent, attributes);
  return span ? { requestId: ctx.requestId, span, traceparent: traceparentOf(span) } : ctx;
}
