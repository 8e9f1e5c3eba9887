import { loadConfig } from './config';

describe('events config', () => {
  it('defaults to no webhooks, pull events on, JetStream on in the distributed shape', () => {
    const { events } = loadConfig({});
    expect(events).toEqual({ webhooks: [], pull: true, pullFlushMs: 1000, jetstream: true });
  });

  it('reads comma-separated URLs with the shared WHARF_EVENTS_WEBHOOK_* settings', () => {
    const { events } = loadConfig({
      WHARF_EVENTS_WEBHOOKS: 'http://a.example/hook, https://b.example/x',
      WHARF_EVENTS_WEBHOOK_HEADERS: '{"Authorization":"Bearer t","X-Multi":["1","2"]}',
      WHARF_EVENTS_WEBHOOK_TIMEOUT: '2s',
      WHARF_EVENTS_WEBHOOK_BACKOFF: '250ms',
      WHARF_EVENTS_WEBHOOK_MAX_BACKOFF: '30s',
      WHARF_EVENTS_PULL: 'false',
    });
    expect(events.pull).toBe(false);
    expect(events.webhooks).toEqual(
      ['http://a.example/hook', 'https://b.example/x'].map((url) => ({
        name: url,
        url,
        headers: { Authorization: ['Bearer t'], 'X-Multi': ['1', '2'] },
        timeoutMs: 2000,
        backoffMs: 250,
        maxBackoffMs: 30_000,
      })),
    );
  });

  it('reads per-endpoint settings from the JSON form, defaults filling the gaps', () => {
    const { events } = loadConfig({
      WHARF_EVENTS_WEBHOOKS: JSON.stringify([
        { url: 'http://a/', name: 'audit', headers: { 'X-Token': ['s'] }, timeout: '500ms' },
        { url: 'http://b/', backoff: '5s', maxBackoff: '10m' },
      ]),
    });
    expect(events.webhooks).toEqual([
      {
        name: 'audit',
        url: 'http://a/',
        headers: { 'X-Token': ['s'] },
        timeoutMs: 500,
        backoffMs: 1000,
        maxBackoffMs: 60_000,
      },
      {
        name: 'http://b/',
        url: 'http://b/',
        headers: {},
        timeoutMs: 5000,
        backoffMs: 5000,
        maxBackoffMs: 600_000,
      },
    ]);
  });

  it.each([
    [{ WHARF_EVENTS_WEBHOOKS: 'ftp://x/' }, /WHARF_EVENTS_WEBHOOKS: "ftp:\/\/x\/" is not an http\(s\) URL/],
    [{ WHARF_EVENTS_WEBHOOKS: 'not a url' }, /WHARF_EVENTS_WEBHOOKS: "not a url" is not a URL/],
    [
      { WHARF_EVENTS_WEBHOOKS: 'http://a/,http://a/' },
      /WHARF_EVENTS_WEBHOOKS: endpoint "http:\/\/a\/" is listed twice/,
    ],
    [
      { WHARF_EVENTS_WEBHOOKS: '[{"url":"http://a/","timeout":"soon"}]' },
      /WHARF_EVENTS_WEBHOOKS\[0\]\.timeout/,
    ],
    [
      { WHARF_EVENTS_WEBHOOKS: '[{"url":"http://a/","retries":3}]' },
      /WHARF_EVENTS_WEBHOOKS\[0\]\.retries: unknown setting/,
    ],
    [{ WHARF_EVENTS_WEBHOOKS: '[{"name":"x"}]' }, /WHARF_EVENTS_WEBHOOKS\[0\]\.url/],
    [{ WHARF_EVENTS_WEBHOOKS: '[1' }, /WHARF_EVENTS_WEBHOOKS: is neither/],
    [
      { WHARF_EVENTS_WEBHOOK_HEADERS: '{"Bad Name":"x"}' },
      /WHARF_EVENTS_WEBHOOK_HEADERS: "Bad Name" is not a header name/,
    ],
    [{ WHARF_EVENTS_WEBHOOK_HEADERS: '{"X-A":"a\\r\\nb"}' }, /WHARF_EVENTS_WEBHOOK_HEADERS\.X-A/],
    [{ WHARF_EVENTS_WEBHOOK_TIMEOUT: '5 sec' }, /WHARF_EVENTS_WEBHOOK_TIMEOUT/],
    [{ WHARF_EVENTS_PULL: 'maybe' }, /WHARF_EVENTS_PULL: "maybe" is not true or false/],
    [{ WHARF_EVENTS_JETSTREAM: 'on' }, /WHARF_EVENTS_JETSTREAM/],
  ])('refuses %j naming the key', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });
});
