import { MetricsRegistry } from './metrics';
import { parsePrometheusText, sumSamples } from './testing/prometheus-text';

describe('metrics registry', () => {
  it('renders counters, gauges and histograms that a strict parser reads back', async () => {
    const r = new MetricsRegistry();
    const c = r.counter('t_requests_total', 'Requests.', ['route', 'status']);
    c.inc(['manifest', '200']);
    c.inc(['manifest', '200'], 2);
    c.inc(['blob', '404']);
    r.gauge('t_in_flight', 'In flight.').set([], 3);
    const h = r.histogram('t_seconds', 'Latency.', ['route'], [0.1, 1]);
    h.observe(['manifest'], 0.05);
    h.observe(['manifest'], 0.5);
    h.observe(['manifest'], 5);
    const families = parsePrometheusText(await r.render());
    expect(families.get('t_requests_total')?.type).toBe('counter');
    expect(sumSamples(families, 't_requests_total', { route: 'manifest', status: '200' })).toBe(3);
    expect(sumSamples(families, 't_requests_total')).toBe(4);
    expect(sumSamples(families, 't_in_flight')).toBe(3);
    expect(sumSamples(families, 't_seconds_bucket', { route: 'manifest', le: '0.1' })).toBe(1);
    expect(sumSamples(families, 't_seconds_bucket', { route: 'manifest', le: '1' })).toBe(2);
    expect(sumSamples(families, 't_seconds_bucket', { route: 'manifest', le: '+Inf' })).toBe(3);
    expect(sumSamples(families, 't_seconds_count', { route: 'manifest' })).toBe(3);
    expect(sumSamples(families, 't_seconds_sum', { route: 'manifest' })).toBeCloseTo(5.55);
  });

  it('escapes label values and help text so they parse back unchanged', async () => {
    const r = new MetricsRegistry();
    r.counter('t_odd_total', 'Help with \\ and\nnewline.', ['v']).inc(['a "quoted" \\ value\nwith newline']);
    const text = await r.render();
    expect(text).toContain('# HELP t_odd_total Help with \\\\ and\\nnewline.');
    const families = parsePrometheusText(text);
    expect(families.get('t_odd_total')?.samples[0].labels.v).toBe('a "quoted" \\ value\nwith newline');
  });

  it('reads scrape-time gauges when rendering, and leaves out one whose collector fails', async () => {
    const r = new MetricsRegistry();
    const failures: string[] = [];
    r.onCollectError = (name) => failures.push(name);
    let queue = 7;
    r.registerGauge('t_queue_depth', 'Rows waiting.', () => queue);
    r.registerGauge('t_lag_seconds', 'Lag per stream.', async () => [
      { labels: { stream: 'events' }, value: 1.5 },
    ]);
    r.registerGauge('t_broken', 'Fails.', () => {
      throw new Error('database down');
    });
    let families = parsePrometheusText(await r.render());
    expect(sumSamples(families, 't_queue_depth')).toBe(7);
    expect(sumSamples(families, 't_lag_seconds', { stream: 'events' })).toBe(1.5);
    expect(families.has('t_broken')).toBe(false);
    expect(failures).toEqual(['t_broken']);
    queue = 9;
    families = parsePrometheusText(await r.render());
    expect(sumSamples(families, 't_queue_depth')).toBe(9);
  });

  it('registering a gauge again replaces it; the old unregister no longer removes the new one', async () => {
    const r = new MetricsRegistry();
    const first = r.registerGauge('t_g', 'G.', () => 1);
    r.registerGauge('t_g', 'G.', () => 2);
    first();
    expect(sumSamples(parsePrometheusText(await r.render()), 't_g')).toBe(2);
  });

  it('refuses bad names, label counts, a second type for one name and counters that go down', () => {
    const r = new MetricsRegistry();
    expect(() => r.counter('bad-name', 'x')).toThrow(/invalid metric name/);
    expect(() => r.counter('t_x_total', 'x', ['le'])).toThrow(/invalid label/);
    const c = r.counter('t_c_total', 'x', ['a']);
    expect(() => c.inc([])).toThrow(/takes labels a/);
    expect(() => c.inc(['v'], -1)).toThrow(/only goes up/);
    expect(() => r.gauge('t_c_total', 'x')).toThrow(/already registered as a counter/);
    expect(r.counter('t_c_total', 'x', ['a'])).toBe(c);
    expect(() => r.histogram('t_h', 'x', [], [1, 1])).toThrow(/increase/);
  });
});

describe('the strict exposition parser', () => {
  it.each([
    ['a sample with a bad name', '1bad 1\n'],
    ['a missing final newline', 'a 1'],
    ['an unquoted label value', 'a{b=c} 1\n'],
    ['a bad escape', 'a{b="\\x"} 1\n'],
    ['a split family', 'a 1\nb 1\na{x="1"} 2\n'],
    ['a duplicate series', 'a{x="1"} 1\na{x="1"} 2\n'],
    ['TYPE after samples', 'a 1\n# TYPE a counter\n'],
    ['a negative counter', '# TYPE a counter\na -1\n'],
    ['a histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    [
      'buckets that are not cumulative',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    ],
    ['a bad value', 'a one\n'],
  ])('rejects %s', (_what, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });
});
