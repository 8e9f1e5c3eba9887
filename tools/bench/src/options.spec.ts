import { share, splitUrls } from './client';
import { baselineLabel, parseCompareOptions } from './compare-options';
import { shapeLabel } from './distributed';
import { formatProcesses, parseOptions, parseProcesses } from './options';

const DIST = '/repo/dist';

describe('bench:compare options', () => {
  it('keeps the meaning of --distributed: the all-in-one as the baseline, one of each', () => {
    const o = parseCompareOptions(['--distributed', '--quick'], DIST);
    expect(o).toMatchObject({
      distributed: true,
      baseline: 'wharf',
      replicas: { gateway: 1, metadata: 1, blob: 1 },
      wharfMain: '/repo/dist/apps/registry/src/main.js',
      rest: ['--quick'],
    });
    expect(baselineLabel(o)).toBe('Wharf AIO');
    expect(shapeLabel(o.replicas)).toBe('Wharf dist.');
  });

  it('measures the distributed shape against Distribution, scaled out', () => {
    const o = parseCompareOptions(
      ['--distributed', '--baseline', 'distribution', '--gateways', '2', '--metadata', '2', '--only', 'rss'],
      DIST,
    );
    expect(o).toMatchObject({
      baseline: 'distribution',
      replicas: { gateway: 2, metadata: 2, blob: 1 },
      rest: ['--only', 'rss'],
    });
    expect(baselineLabel(o)).toBe('Distribution');
    expect(shapeLabel(o.replicas)).toBe('Wharf dist. 2gw 2md 1blob');
  });

  it('defaults to Distribution without --distributed, and to the other build with one named', () => {
    expect(parseCompareOptions([], DIST).baseline).toBe('distribution');
    const before = parseCompareOptions(['--baseline-wharf-main', '/old/main.js'], DIST);
    expect(before).toMatchObject({ baseline: 'wharf', baselineWharfMain: '/old/main.js', otherBuild: true });
    expect(baselineLabel(before)).toBe('Wharf before');
    expect(parseCompareOptions(['--data', '/d'], DIST)).toMatchObject({ data: '/d', keep: true });
  });

  it('refuses what cannot be meant', () => {
    expect(() => parseCompareOptions(['--baseline', 'http://x:1'], DIST)).toThrow(
      /"distribution" or "wharf"/,
    );
    expect(() => parseCompareOptions(['--gateways', '2'], DIST)).toThrow(/add --distributed/);
    expect(() => parseCompareOptions(['--distributed', '--gateways', 'two'], DIST)).toThrow(/1 to 16/);
    expect(() =>
      parseCompareOptions(['--baseline', 'distribution', '--baseline-wharf-main', '/old'], DIST),
    ).toThrow(/drop --baseline distribution/);
    expect(() => parseCompareOptions(['--gateways'], DIST)).toThrow(/needs a value/);
  });
});

describe('harness options', () => {
  it('reads a registry as several processes, named or not', () => {
    expect(parseProcesses('123')).toEqual([{ name: 'pid 123', pid: 123 }]);
    const procs = parseProcesses('gateway-1=10,gateway-2=11, blob-1=12');
    expect(procs.map((p) => p.name)).toEqual(['gateway-1', 'gateway-2', 'blob-1']);
    expect(parseProcesses(formatProcesses(procs))).toEqual(procs);
    expect(parseProcesses(undefined)).toEqual([]);
    expect(() => parseProcesses('gateway')).toThrow(/not a PID/);
    const cli = parseOptions(['--target', 'http://a:1,http://b:2', '--target-pid', 'g1=1,g2=2', '--quick']);
    expect(cli.targetProcesses).toHaveLength(2);
    expect(cli.baselineProcesses).toEqual([]);
    expect(splitUrls(cli.target)).toEqual(['http://a:1', 'http://b:2']);
  });

  it('spreads connections over gateways, every one of them used', () => {
    expect([0, 1].map((i) => share(32, 2, i))).toEqual([16, 16]);
    expect([0, 1, 2].map((i) => share(32, 3, i))).toEqual([11, 11, 10]);
    expect([0, 1].map((i) => share(1, 2, i))).toEqual([1, 0]);
    expect(() => splitUrls(' , ')).toThrow(/no URL/);
  });
});
