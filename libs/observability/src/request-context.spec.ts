import {
  acceptRequestId,
  currentContext,
  formatTraceparent,
  parseTraceparent,
  propagationHeaders,
  runInContext,
} from './request-context';
import { contextFor, startTracing, tracingEnabled } from './tracing';

describe('request context', () => {
  it('follows async work started inside it, and nothing outside', async () => {
    expect(currentContext()).toBeUndefined();
    const seen = await runInContext({ requestId: 'r-1' }, async () => {
      await new Promise((r) => setTimeout(r, 1));
      return currentContext()?.requestId;
    });
    expect(seen).toBe('r-1');
    expect(currentContext()).toBeUndefined();
  });

  it('sends the request id, and the trace context when there is one', () => {
    expect(propagationHeaders(undefined)).toEqual({});
    expect(propagationHeaders({ requestId: 'r' })).toEqual({ 'x-request-id': 'r' });
    const tp = formatTraceparent('a'.repeat(32), 'b'.repeat(16), 1);
    expect(propagationHeaders({ requestId: 'r', traceparent: tp })).toEqual({
      'x-request-id': 'r',
      traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`,
    });
  });

  it('keeps only plain, short request ids from callers', () => {
    expect(acceptRequestId('abc-123_X.y:z')).toBe('abc-123_X.y:z');
    expect(acceptRequestId('has space')).toBeUndefined();
    expect(acceptRequestId('x'.repeat(129))).toBeUndefined();
    expect(acceptRequestId('line\nbreak')).toBeUndefined();
    expect(acceptRequestId(['a', 'b'])).toBeUndefined();
    expect(acceptRequestId(undefined)).toBeUndefined();
  });

  it('reads W3C traceparent version 00 and rejects malformed or all-zero ids', () => {
    const ok = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
    expect(parseTraceparent(ok)).toEqual({ traceId: '1'.repeat(32), spanId: '2'.repeat(16), flags: 1 });
    expect(parseTraceparent(`00-${'0'.repeat(32)}-${'2'.repeat(16)}-01`)).toBeUndefined();
    expect(parseTraceparent(`00-${'1'.repeat(32)}-${'0'.repeat(16)}-01`)).toBeUndefined();
    expect(parseTraceparent(`00-${'G'.repeat(32)}-${'2'.repeat(16)}-01`)).toBeUndefined();
    expect(parseTraceparent('garbage')).toBeUndefined();
  });

  it('without an OTLP endpoint makes no spans and passes a valid caller traceparent through', () => {
    expect(startTracing('t', {})).toBe(false);
    expect(tracingEnabled()).toBe(false);
    const tp = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
    expect(contextFor('r', tp, 'GET', 'server')).toEqual({ requestId: 'r', traceparent: tp });
    expect(contextFor('r', 'junk', 'GET', 'server')).toEqual({ requestId: 'r', traceparent: undefined });
  });
});
