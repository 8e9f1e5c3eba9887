import { parseSoakOptions } from './soak-options';
import { misses, report, type SoakResult } from './soak-report';
import { parseWrk, wrkScript, wrkTargets, wrkThreads } from './soak-wrk';

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
    rss: [{ name: 'wharf', startMiB: 100, peakMiB: 150, endMiB: 120, growthMiB: 50 }],
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
    slow.rss![0].growthMiB = 120;
    expect(misses(slow)).toEqual([
      '2 requests over 2 s',
      'pull p99 300 ms > 250 ms',
      'RSS growth 120 MiB > 100 MiB',
    ]);
    expect(misses(slow, false)).toEqual([]);
  });

  it('holds every process of a distributed registry to the RSS limit, naming the one that missed', () => {
    const r = result();
    r.rss = [
      { name: 'gateway-1', startMiB: 100, peakMiB: 150, endMiB: 120, growthMiB: 50 },
      { name: 'gateway-2', startMiB: 100, peakMiB: 230, endMiB: 120, growthMiB: 130 },
      { name: 'metadata-1', startMiB: 90, peakMiB: 95, endMiB: 92, growthMiB: 5 },
    ];
    expect(misses(r)).toEqual(['RSS growth of gateway-2 130 MiB > 100 MiB']);
    const table = report([r]);
    expect(table).toMatch(/RSS start \/ peak \(MiB\)\s+290 \/ 475 \(sum of 3\)/);
    expect(table).toMatch(/RSS growth \(MiB\)\s+130 \(gateway-2\)/);
    expect(table).toMatch(/gateway-1 start \/ peak \/ growth\s+100 \/ 150 \/ \+50/);
  });

  it('spreads wrk threads evenly over the gateways', () => {
    expect(wrkThreads(2, 1, 256)).toBe(2);
    expect(wrkThreads(2, 2, 256)).toBe(2);
    expect(wrkThreads(2, 3, 256)).toBe(3);
    expect(wrkThreads(5, 2, 256)).toBe(6);
    expect(() => wrkThreads(2, 4, 3)).toThrow(/cannot be spread/);
    expect(wrkTargets(['http://127.0.0.1:5001', 'http://localhost/'])).toEqual([
      { host: '127.0.0.1', port: '5001' },
      { host: 'localhost', port: '80' },
    ]);
    const script = wrkScript(wrkTargets(['http://127.0.0.1:5001', 'http://127.0.0.1:5002']));
    expect(script).toContain('local targets = { { "127.0.0.1", "5001" }, { "127.0.0.1", "5002" } }');
    expect(script).toMatch(/thread\.addr = wrk\.lookup/);
  });

  it('starts two gateways for --distributed unless told otherwise, and refuses mixed modes', () => {
    const d = parseSoakOptions(['--distributed', '--duration', '20']);
    expect(d.distributed).toEqual({ gateway: 2, metadata: 1, blob: 1 });
    expect(d).toMatchObject({ seconds: 20, connections: 256, pushers: 4, threads: 2, check: false });
    expect(parseSoakOptions(['--distributed', '--gateways', '3', '--metadata', '2']).distributed).toEqual({
      gateway: 3,
      metadata: 2,
      blob: 1,
    });
    expect(parseSoakOptions(['--smoke'])).toMatchObject({ seconds: 10, connections: 32, pushers: 2 });
    const t = parseSoakOptions(['--target', 'http://a:1,http://b:2', '--target-pid', 'gw=10,md=11']);
    expect(t.target).toEqual(['http://a:1', 'http://b:2']);
    expect(t.targetProcesses).toEqual([
      { name: 'gw', pid: 10 },
      { name: 'md', pid: 11 },
    ]);
    expect(() => parseSoakOptions(['--gateways', '2'])).toThrow(/add --distributed/);
    expect(() => parseSoakOptions(['--distributed', '--target', 'http://a:1'])).toThrow(/either/);
    expect(() => parseSoakOptions(['--distributed', '--gateways', '0'])).toThrow(/1 to 16/);
    expect(() => parseSoakOptions(['--baseline', 'wharf'])).toThrow(/only "distribution"/);
  });
});
