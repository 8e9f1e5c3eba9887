import { loadConfig } from './config';

describe('GC configuration', () => {
  it('defaults to a 24h review delay, a 5s interval, enabled', () => {
    expect(loadConfig({}).gc).toEqual({ enabled: true, reviewDelayMs: 24 * 3600_000, intervalMs: 5000 });
  });

  it('reads WHARF_GC_REVIEW_DELAY, WHARF_GC_INTERVAL and WHARF_GC_ENABLED', () => {
    expect(
      loadConfig({ WHARF_GC_REVIEW_DELAY: '0s', WHARF_GC_INTERVAL: '250ms', WHARF_GC_ENABLED: 'false' }).gc,
    ).toEqual({ enabled: false, reviewDelayMs: 0, intervalMs: 250 });
  });

  it.each([
    ['WHARF_GC_REVIEW_DELAY', 'soon'],
    ['WHARF_GC_INTERVAL', '5'],
    ['WHARF_GC_INTERVAL', '1ms'],
    ['WHARF_GC_ENABLED', 'maybe'],
  ])('a bad %s (%s) names the key', (key, value) => {
    expect(() => loadConfig({ [key]: value })).toThrow(key);
  });
});
