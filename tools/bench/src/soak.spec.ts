import { misses, parseWrk, type SoakResult } from './soak';

const WRK_OUT = `Running 10s test @ http://127.0.0.1:1/
  2 threads and 32 connections
WRK_JSON {"requests":1000,"us":10000000,"connect":0,"read":1,"write":0,"status":2,"timeout":3,"p50":1500,"p90":9000,"p99":251000,"p999":900000,"max":1990000}
`;

function result(
  over: Partial<SoakResult['pulls']> = {},
  pushes: Partial<SoakResult['pushes']> = {},
): SoakResult {
  return {
    label: 'Wharf',
    url: 'http://x',
    pulls: { ...parseWrk(WRK_OUT), read: 0, status: 0, timeout: 0, p99Ms: 100, perSecond: 100, ...over },
    pushes: { ok: 5, failed: 0, bytes: 1, p50Ms: 1, p99Ms: 1, maxMs: 1, errors: [], ...pushes },
    rss: { startMiB: 100, peakMiB: 150, endMiB: 120, growthMiB: 50 },
  };
}

describe('soak', () => {
  it("reads wrk's done() line: counts, and latencies in milliseconds", () => {
    const r = parseWrk(WRK_OUT);
    expect(r).toMatchObject({
      requests: 1000,
      seconds: 10,
      read: 1,
      status: 2,
      timeout: 3,
      p50Ms: 1.5,
      p99Ms: 251,
    });
    expect(r.maxMs).toBe(1990);
  });

  it('fails loudly when wrk printed no result', () => {
    expect(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused')).toThrow(/no result/);
  });

  it('meets its targets only with no slow request, no error, no failed push', () => {
    expect(misses(result())).toEqual([]);
    expect(misses(result({ timeout: 1 }))).toEqual(['1 requests over 2 s']);
    expect(misses(result({ connect: 2, write: 1 }))[0]).toMatch(/3 socket errors/);
    expect(misses(result({ status: 4 }))).toEqual(['4 answers with an error status']);
    expect(misses(result({}, { failed: 1, errors: ['PUT answered 500'] }))[0]).toMatch(
      /1 failed pushes: PUT/,
    );
    expect(misses(result({}, { ok: 0 }))).toEqual(['no push completed']);
  });

  it('checks requests over 2 s, p99 and RSS growth, except in the smoke run', () => {
    const slow = result({ p99Ms: 300, timeout: 2 });
    slow.rss!.growthMiB = 120;
    expect(misses(slow)).toEqual([
      '2 requests over 2 s',
      'pull p99 300 ms > 250 ms',
      'RSS growth 120 MiB > 100 MiB',
    ]);
    expect(misses(slow, false)).toEqual([]);
  });
});
